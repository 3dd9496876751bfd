//! The recorder's web UI (`/ui`) as a tester and an engineer use it: traffic from curl and
//! from headless Chromium through the real proxy, the UI read in other Chromium pages (a
//! desktop one on the proxy's address, a phone-sized one through the proxy at
//! `http://loadtape.ca/ui`): rows within a second, a JSON tree, a token with its origin, a
//! group mark and a drop that the downloads and the recording on disk carry.

use std::time::Duration;

use loadtape_recording::read_recording_str;
use serde_json::json;

use crate::cdp::{Browser, Page};
use crate::record::{json, Setup};
use crate::util::{curl, curl_status, loadtape};

/// How long a row may take to show up after its exchange finished.
const ROW_WITHIN: Duration = Duration::from_secs(1);

const ROWS: &str = "document.querySelectorAll('#rows tr[data-id]').length";
const SHOW: &str = "document.getElementById('rows').innerText + '\\n---\\n' + document.getElementById('detail-body').innerText";

/// The id of the row whose host and path contain `host` and `path`.
fn row_id(b: &mut Browser, page: &Page, host: &str, path: &str) -> u64 {
    let v = b.eval(
        page,
        &format!(
            "(function () {{ var r = Array.prototype.find.call(document.querySelectorAll('#rows tr[data-id]'), \
             function (t) {{ return t.dataset.host.indexOf('{host}') >= 0 && t.dataset.path === '{path}'; }}); \
             return r ? Number(r.dataset.id) : null; }})()"
        ),
    );
    v.as_u64()
        .unwrap_or_else(|| panic!("no row {host} {path}: {}", b.eval(page, SHOW)))
}

fn sort(v: &mut serde_json::Value) {
    v.as_array_mut()
        .unwrap()
        .sort_by_key(|x| x.as_str().unwrap_or("").to_string());
}

fn open_row(b: &mut Browser, page: &Page, id: u64) {
    b.eval(
        page,
        &format!("document.querySelector('#rows tr[data-id=\"{id}\"]').click(); true"),
    );
    b.wait_for(
        page,
        &format!("document.getElementById('detail-body').innerText.indexOf('Exchange #{id}') >= 0"),
        Duration::from_secs(10),
        SHOW,
    );
}

/// The proxy, with only the testbeds intercepted (Chromium's own calls stay out).
fn setup() -> Setup {
    Setup::new(&["--include", "localhost", "--include", "127.0.0.1"])
}

#[test]
fn the_ui_lists_opens_marks_drops_and_downloads_what_the_proxy_records() {
    let mut w = Watch::start();
    w.traffic();
    w.filters();
    let goods = w.tokens();
    let profile = w.mark();
    let dropped = w.drop_one();
    let ids = w.downloads(goods, profile, dropped);
    w.on_disk(&ids, goods, dropped);
}

/// A recorder, a desktop page of its UI, and a proxied "phone" browser with the UI open too.
struct Watch {
    s: Setup,
    proxy: String,
    ui: Browser,
    desk: Page,
    phone: Browser,
    small: Option<Page>,
    /// The session token of curl's login.
    session: String,
}

impl Watch {
    fn start() -> Watch {
        let s = setup();
        let proxy = s.proxy_url();
        let mut ui = Browser::start(&s.dir.path().join("ui"), &[]);
        let desk = ui.open(&format!("{proxy}/ui"), 1280, 800, false);
        ui.wait_for(
            &desk,
            "document.querySelector('#state.live')",
            Duration::from_secs(15),
            SHOW,
        );
        let phone = Browser::start(
            &s.dir.path().join("phone"),
            &[
                &format!("--proxy-server={proxy}"),
                "--proxy-bypass-list=<-loopback>",
            ],
        );
        Watch {
            s,
            proxy,
            ui,
            desk,
            phone,
            small: None,
            session: String::new(),
        }
    }

    /// curl and Chromium record; each batch of rows is there within a second; the CA hint is
    /// a row; the phone opens the UI through the proxy.
    fn traffic(&mut self) {
        let (s, ui, desk, proxy) = (&self.s, &mut self.ui, &self.desk, &self.proxy);
        // curl: a login over TLS; its row is there within a second.
        let login = s.curl(&[
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"code":"0a3Xk2ll2yqXRc4M"}"#,
            &format!("{}/api/login", s.tls_base),
        ]);
        assert_eq!(login.0, 0, "{}", login.1);
        self.session = json(&login.1)["token"].as_str().unwrap().to_string();
        let took = ui.wait_for(desk, &format!("{ROWS} >= 1"), ROW_WITHIN, SHOW);
        assert!(took <= ROW_WITHIN + Duration::from_millis(200), "{took:?}");

        // Chromium through the proxy: the testbed's page logs in and lists goods with the
        // token.
        let phone = &mut self.phone;
        let shop = phone.open(&format!("{}/", s.plain_base), 390, 844, true);
        phone.wait_for(
            &shop,
            "document.getElementById('status').textContent === 'ok'",
            Duration::from_secs(20),
            "document.body.innerText",
        );
        ui.wait_for(desk, &format!("{ROWS} >= 5"), ROW_WITHIN, SHOW);

        // A client that does not trust the loadtape CA: the proxy's advice is a row too.
        let (code, _) = curl(&[
            "--proxy",
            proxy,
            &format!("{}/api/goods?page=9", s.tls_base),
        ]);
        assert_ne!(code, 0, "curl must refuse a CA it was not given");
        ui.wait_for(
            desk,
            "Array.prototype.some.call(document.querySelectorAll('#rows tr.notice'), \
         function (t) { return t.innerText.indexOf(\"rejected loadtape's certificate\") >= 0; })",
            Duration::from_secs(5),
            SHOW,
        );

        // The same device opens the UI through the proxy, at a phone's width: the same rows, and
        // nothing scrolls sideways.
        let small = phone.open("http://loadtape.ca/ui", 390, 844, true);
        phone.wait_for(
            &small,
            &format!("{ROWS} >= 5"),
            Duration::from_secs(15),
            SHOW,
        );
        let width = phone.eval(&small, "document.documentElement.scrollWidth");
        assert!(
            width.as_u64().unwrap() <= 390,
            "the phone layout is {width} px wide"
        );

        self.small = Some(small);
    }

    /// Filters: by path, by status class, by host, by text; each hides the rest.
    fn filters(&mut self) {
        let (ui, desk) = (&mut self.ui, &self.desk);
        let visible = "Array.prototype.filter.call(document.querySelectorAll('#rows tr[data-id]'), function (t) { return !t.hidden; }).map(function (t) { return t.dataset.path.replace(/^\\/api\\/goods\\/[^?]+$/, '/api/goods/id'); })";
        for (field, value, want) in [
            ("f-path", "/api/login", json!(["/api/login", "/api/login"])),
            (
                "f-status",
                "2xx",
                json!([
                    "/api/login",
                    "/",
                    "/api/login",
                    "/api/goods?page=1",
                    "/api/goods/id"
                ]),
            ),
            ("f-host", "localhost", json!(["/api/login"])),
            ("f-text", "POST", json!(["/api/login", "/api/login"])),
        ] {
            let set = |v: &str| {
                format!(
                    "(function () {{ var f = document.getElementById('{field}'); f.value = '{v}'; \
                 f.dispatchEvent(new Event('input')); return true; }})()"
                )
            };
            ui.eval(desk, &set(value));
            let mut got = ui.eval(desk, visible);
            let mut want = want;
            sort(&mut got);
            sort(&mut want);
            assert_eq!(got, want, "{field} = {value}");
            ui.eval(desk, &set(""));
        }
    }

    /// The token of the goods list and its origin, highlighted; the JSON tree. Returns the
    /// goods list's id.
    fn tokens(&mut self) -> u64 {
        let (ui, desk) = (&mut self.ui, &self.desk);
        // The goods list the page sent with its token: the header is highlighted, with the class
        // and the origin detection finds (the login's response, at $.token).
        let plain_login = row_id(ui, desk, "127.0.0.1", "/api/login");
        let goods = row_id(ui, desk, "127.0.0.1", "/api/goods?page=1");
        open_row(ui, desk, goods);
        let origin = format!("issued by the response of exchange #{plain_login} at json $.token");
        ui.wait_for(
        desk,
        &format!(
            "Array.prototype.some.call(document.querySelectorAll('#detail-body td.token'), \
             function (td) {{ return td.innerText.indexOf('session token') >= 0 && td.innerText.indexOf({origin:?}) >= 0; }})"
        ),
        Duration::from_secs(10),
        SHOW,
    );
        // Its JSON body is a tree: a leaf per field, each with its path.
        ui.wait_for(
        desk,
        "document.querySelector('#detail-body ul.tree[data-kind=json] li[data-path=\"$.data[0].id\"] .s')",
        Duration::from_secs(5),
        SHOW,
    );

        // The login: the token in its response body's tree is highlighted as issued there.
        open_row(ui, desk, plain_login);
        ui.wait_for(
        desk,
        "(function () { var li = document.querySelector('#detail-body ul.tree li[data-path=\"$.token\"]'); \
         return li && li.classList.contains('token') && li.innerText.indexOf('issued here, at json $.token') >= 0; })()",
        Duration::from_secs(10),
        SHOW,
    );

        goods
    }

    /// A group marked from the UI: the notice shows in both pages, and the next exchange
    /// carries it. Returns that exchange's id.
    fn mark(&mut self) -> u64 {
        let (s, ui, desk, phone) = (&self.s, &mut self.ui, &self.desk, &mut self.phone);
        let small = self.small.as_ref().unwrap();
        let session = &self.session;
        // A group marked from the UI: the notice shows, and the next exchange carries it.
        ui.eval(
        desk,
        "document.getElementById('mark-name').value = 'checkout'; document.getElementById('mark').requestSubmit(); true",
    );
        ui.wait_for(
        desk,
        "document.getElementById('rows').innerText.indexOf('group `checkout` started for everyone') >= 0",
        Duration::from_secs(5),
        SHOW,
    );
        // The phone's page shows the notice too (a row of its own at that width).
        phone.wait_for(
        small,
        "document.getElementById('rows').innerText.indexOf('group `checkout` started for everyone') >= 0",
        Duration::from_secs(5),
        SHOW,
    );
        let bearer = format!("authorization: Bearer {session}");
        let (code, out) = s.curl(&["-H", &bearer, &format!("{}/api/profile", s.tls_base)]);
        assert_eq!(code, 0, "{out}");
        ui.wait_for(desk, &format!("{ROWS} >= 6"), ROW_WITHIN, SHOW);
        let profile = row_id(ui, desk, "localhost", "/api/profile");
        let group = ui.eval(
            desk,
            &format!(
            "document.querySelector('#rows tr[data-id=\"{profile}\"]').children[10].textContent"
        ),
        );
        assert_eq!(group, json!("checkout"));

        profile
    }

    /// Drops the goods detail the page fetched: struck through in both pages at once.
    fn drop_one(&mut self) -> u64 {
        let (ui, desk, phone) = (&mut self.ui, &self.desk, &mut self.phone);
        let small = self.small.as_ref().unwrap();
        let detail_path = ui.eval(
        desk,
        "Array.prototype.find.call(document.querySelectorAll('#rows tr[data-id]'), function (t) { return t.dataset.path.indexOf('/api/goods/') === 0; }).dataset.id",
    );
        let dropped: u64 = detail_path.as_str().unwrap().parse().unwrap();
        open_row(ui, desk, dropped);
        ui.eval(desk, "document.getElementById('drop').click(); true");
        let struck = format!("document.querySelector('#rows tr[data-id=\"{dropped}\"].dropped')");
        ui.wait_for(desk, &struck, Duration::from_secs(5), SHOW);
        phone.wait_for(small, &struck, Duration::from_secs(5), SHOW);

        dropped
    }

    /// The downloads are of the current state; returns the ids left.
    fn downloads(&self, goods: u64, profile: u64, dropped: u64) -> Vec<u64> {
        let proxy = &self.proxy;
        let (current, status) = curl_status(&[&format!("{proxy}/ui/download/recording")]);
        assert_eq!(status, 200);
        let current = read_recording_str(&current, "current.yaml").unwrap();
        let ids: Vec<u64> = current.exchanges.iter().map(|e| e.id).collect();
        assert!(!ids.contains(&dropped) && ids.contains(&goods), "{ids:?}");
        assert_eq!(
            current
                .exchanges
                .iter()
                .find(|e| e.id == profile)
                .unwrap()
                .group
                .as_deref(),
            Some("checkout")
        );
        let (file, _) = curl_status(&[&format!("{proxy}/ui/download/recording?as=file")]);
        assert!(file.contains(&format!("\ndropped: {dropped}\n")), "{file}");
        let (scenario, status) = curl_status(&[&format!("{proxy}/ui/download/scenario")]);
        assert_eq!(status, 200, "{scenario}");
        assert!(
            scenario.contains("flows:") && scenario.contains("- name: checkout"),
            "{scenario}"
        );
        assert!(
            scenario.contains(&format!("recorded: {goods}\n")),
            "{scenario}"
        );
        assert!(
            !scenario.contains(&format!("recorded: {dropped}\n")),
            "{scenario}"
        );
        let (har, _) = curl_status(&[&format!("{proxy}/ui/download/har")]);
        let har = json(&har);
        assert_eq!(har["log"]["entries"].as_array().unwrap().len(), ids.len());

        ids
    }

    /// On disk: the drop is a tombstone the reader honours, the file never rewritten; the
    /// commands read it the same way.
    fn on_disk(self, ids: &[u64], goods: u64, dropped: u64) {
        let Watch {
            mut s, ui, phone, ..
        } = self;
        drop(phone);
        drop(ui);
        let (rest, rec) = s.stop();
        assert!(rest.contains("dropped 1 of them from the UI"), "{rest}");
        let on_disk: Vec<u64> = rec.exchanges.iter().map(|e| e.id).collect();
        assert_eq!(on_disk, ids);
        // The commands read it the same way: convert and the HAR export leave the drop out.
        let out = s.dir.path().join("s.yaml");
        succeeds(&[
            "convert",
            s.recording.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        let converted = std::fs::read_to_string(&out).unwrap();
        assert!(
            converted.contains(&format!("recorded: {goods}\n")),
            "{converted}"
        );
        assert!(
            !converted.contains(&format!("recorded: {dropped}\n")),
            "{converted}"
        );
        let har_out = s.dir.path().join("r.har");
        succeeds(&[
            "har",
            "export",
            s.recording.to_str().unwrap(),
            "-o",
            har_out.to_str().unwrap(),
        ]);
        let har = json(&std::fs::read_to_string(&har_out).unwrap());
        assert_eq!(har["log"]["entries"].as_array().unwrap().len(), ids.len());
    }
}

/// `loadtape ARGS`, which must succeed.
fn succeeds(args: &[&str]) {
    let done = loadtape().args(args).output().unwrap();
    assert!(
        done.status.success(),
        "loadtape {args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn the_ui_survives_garbage_many_watchers_and_ones_that_leave() {
    let mut s = setup();
    let proxy = s.proxy_url();
    let ui = |path: &str| format!("{proxy}/ui{path}");
    // A body nothing reads: the UI takes every input from the path and the query.
    let body = s.dir.path().join("big");
    std::fs::write(&body, vec![b'x'; 4 << 20]).unwrap();
    let big = format!("@{}", body.display());
    for (args, want) in [
        (
            vec![
                "-XPOST",
                "-H",
                "x-loadtape-ui: 1",
                &ui("/api/drop/99999999999999999999999")[..],
            ],
            400,
        ),
        (
            vec!["-XPOST", "-H", "x-loadtape-ui: 1", &ui("/api/drop/7")[..]],
            409,
        ),
        (vec![&ui("/api/exchange/x")[..]], 400),
        (vec![&ui("/api/exchange/12")[..]], 404),
        (
            vec![
                "-XPOST",
                "-H",
                "x-loadtape-ui: 1",
                &ui("/api/mark?name=a%20b")[..],
            ],
            400,
        ),
        (
            vec!["-XPOST", "-H", "x-loadtape-ui: 1", &ui("/api/mark")[..]],
            400,
        ),
        (vec!["-XDELETE", &ui("/events")[..]], 405),
        // A change without the page's header (a form of another site): refused.
        (vec!["-XPOST", &ui("/api/mark?name=x")[..]], 403),
        (vec!["--path-as-is", &ui("/../../etc/passwd")[..]], 404),
        (vec![&ui("/nothing")[..]], 404),
        (
            vec![
                "-XPOST",
                "-H",
                "x-loadtape-ui: 1",
                "--data-binary",
                &big[..],
                &ui("/api/mark?name=x")[..],
            ],
            200,
        ),
    ] {
        let (body, status) = curl_status(&args);
        assert_eq!(status, want, "{args:?}: {body}");
    }
    // Raw garbage on a socket: the connection is refused, the proxy goes on.
    {
        use std::io::{Read as _, Write as _};
        let mut sock = std::net::TcpStream::connect(&s.proxy_addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.write_all(b"GET /ui/\xff\xfe HTTP/1.1\r\nHost: \x01\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = sock.read_to_end(&mut answer);
    }

    watchers_are_capped_and_given_back(&s);
    // Recording went on all along.
    let (code, _) = curl(&[
        "--proxy",
        &proxy,
        &format!("{}/api/goods?page=2", s.plain_base),
    ]);
    assert_eq!(code, 0);
    let (_, rec) = s.stop();
    assert!(rec.exchanges.len() >= 2);
}

/// Up to the cap, watchers stream; the one past it is told to wait; the places of watchers
/// that left are given back at the next event.
fn watchers_are_capped_and_given_back(s: &Setup) {
    let proxy = s.proxy_url();
    let ui = |path: &str| format!("{proxy}/ui{path}");
    let mut watchers: Vec<std::process::Child> = (0..32)
        .map(|_| {
            std::process::Command::new("curl")
                .args(["-q", "-sN", "--max-time", "30", &ui("/events")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (body, status) = curl_status(&["--max-time", "1", &ui("/events")]);
        if status == 503 {
            assert!(body.contains("close one"), "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no 503 past 32 watchers"
        );
    }
    for w in &mut watchers {
        let _ = w.kill();
        let _ = w.wait();
    }
    // The next event finds them gone.
    let (code, _) = s.curl(&[&format!("{}/api/goods?page=1", s.plain_base)]);
    assert_eq!(code, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (body, _) = curl_status(&["--max-time", "1", &ui("/events")]);
        if body.contains("event: row") && body.contains("event: ready") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "watchers that left kept their places: {body}"
        );
        let _ = s.curl(&[&format!("{}/api/goods?page=1", s.plain_base)]);
    }
}

#[test]
fn the_ui_is_guarded_like_the_proxy() {
    let s = Setup::new(&["--auth", "u:p"]);
    let proxy = s.proxy_url();
    let direct = format!("{proxy}/ui");
    assert_eq!(curl_status(&[&direct]).1, 401);
    assert_eq!(curl_status(&["-u", "u:wrong", &direct]).1, 401);
    let (page, status) = curl_status(&["-u", "u:p", &direct]);
    assert_eq!(status, 200);
    assert!(page.contains("/ui/ui.js"), "{page}");
    let through = ["--proxy", proxy.as_str(), "http://loadtape.ca/ui"];
    assert_eq!(curl_status(&through).1, 407);
    let mut with = vec!["--proxy-user", "u:p"];
    with.extend_from_slice(&through);
    assert_eq!(curl_status(&with).1, 200);
    // The CA page stays open: a phone needs it before it can set anything.
    assert_eq!(curl_status(&[&format!("{proxy}/ca.pem")]).1, 200);

    // A client outside --allow-client gets the proxy's 403, for the UI too.
    let s = Setup::new(&["--allow-client", "10.0.0.0/8"]);
    let (body, status) = curl_status(&[&format!("{}/ui", s.proxy_url())]);
    assert_eq!(status, 403, "{body}");
}

#[test]
fn with_testers_the_ui_takes_a_tester_id_and_marks_that_testers_flow() {
    let mut s = Setup::new(&["--tester", "alice", "--tester", "bob"]);
    let proxy = s.proxy_url();
    let direct = format!("{proxy}/ui");
    assert_eq!(curl_status(&[&direct]).1, 401);
    assert_eq!(curl_status(&["-u", "mallory:x", &direct]).1, 401);
    assert_eq!(curl_status(&["-u", "alice:x", &direct]).1, 200);
    // Alice, through the proxy, marks a group for her device only: her next exchange
    // carries it, Bob's does not.
    let through = |who: &str, url: &str, post: bool| {
        let user = format!("{who}:x");
        let mut args = vec!["--proxy", proxy.as_str(), "--proxy-user", user.as_str()];
        if post {
            args.extend(["-XPOST", "-H", "x-loadtape-ui: 1"]);
        }
        args.push(url);
        curl_status(&args)
    };
    let (body, status) = through(
        "alice",
        "http://loadtape.ca/ui/api/mark?name=cart&scope=me",
        true,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["for"], "alice");
    let goods = format!("{}/api/goods?page=1", s.plain_base);
    assert_eq!(
        through("alice", &goods, false).1,
        401,
        "the testbed wants a token"
    );
    assert_eq!(through("bob", &goods, false).1, 401);
    let (_, rec) = s.stop();
    let groups: Vec<(Option<&str>, Option<&str>)> = rec
        .exchanges
        .iter()
        .map(|e| (e.tester.as_deref(), e.group.as_deref()))
        .collect();
    assert_eq!(groups, [(Some("alice"), Some("cart")), (Some("bob"), None)]);
}

/// Makes the README's two screenshots (`crates/ui/screenshots/`): a real recorder, the
/// testbed's page and curl recording through it, the UI in headless Chromium at 1280 x 800
/// with the token-carrying goods list opened, and at a phone's 390 x 844 through the proxy.
/// Run by hand: `cargo test --test integration -- --ignored record_ui::screenshots`.
#[test]
#[ignore = "writes the README's screenshots"]
fn screenshots() {
    let s = setup();
    let proxy = s.proxy_url();
    let mut phone = Browser::start(
        &s.dir.path().join("phone"),
        &[
            &format!("--proxy-server={proxy}"),
            "--proxy-bypass-list=<-loopback>",
        ],
    );
    let shop = phone.open(&format!("{}/", s.plain_base), 390, 844, true);
    phone.wait_for(
        &shop,
        "document.getElementById('status').textContent === 'ok'",
        Duration::from_secs(20),
        "document.body.innerText",
    );
    for path in ["/api/goods?page=2", "/api/profile", "/nope"] {
        let _ = s.curl(&[&format!("{}{path}", s.tls_base)]);
    }
    let (_, _) = curl_status(&[
        "-XPOST",
        "-H",
        "x-loadtape-ui: 1",
        &format!("{proxy}/ui/api/mark?name=checkout"),
    ]);
    let _ = s.curl(&[&format!("{}/api/goods?page=3", s.plain_base)]);
    let small = phone.open("http://loadtape.ca/ui", 390, 844, true);
    phone.wait_for(
        &small,
        &format!("{ROWS} >= 8"),
        Duration::from_secs(15),
        SHOW,
    );

    let mut ui = Browser::start(&s.dir.path().join("ui"), &[]);
    let desk = ui.open(&format!("{proxy}/ui"), 1280, 800, false);
    ui.wait_for(
        &desk,
        &format!("{ROWS} >= 8"),
        Duration::from_secs(15),
        SHOW,
    );
    let goods = row_id(&mut ui, &desk, "127.0.0.1", "/api/goods?page=1");
    open_row(&mut ui, &desk, goods);
    ui.wait_for(
        &desk,
        "document.querySelector('#detail-body td.token')",
        Duration::from_secs(10),
        SHOW,
    );

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/ui/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("desktop.png"), ui.screenshot(&desk)).unwrap();
    std::fs::write(out.join("phone.png"), phone.screenshot(&small)).unwrap();
}
