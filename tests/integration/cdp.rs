//! Headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`), for
//! pages that never finish loading (a live list fed by server-sent events), which
//! `--dump-dom` would read before anything arrived. A test opens pages, evaluates
//! JavaScript in them (waiting on the page's own promises, bounded) and reads the results.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A running Chromium and its protocol pipe.
pub struct Browser {
    child: Child,
    to: ChildStdin,
    from: mpsc::Receiver<Value>,
    next: u64,
}

/// One page (a tab) of a [`Browser`].
pub struct Page {
    session: String,
}

impl Browser {
    /// Starts Chromium with a fresh profile under `home` (the flags of
    /// [`crate::util::chromium`]), its protocol on fds 3 and 4.
    pub fn start(home: &std::path::Path, extra: &[&str]) -> Browser {
        let mut base = crate::util::chromium(home);
        base.args(extra);
        let mut c = Command::new("sh");
        // The shell hands the pipes to Chromium as the fds it reads (3) and writes (4).
        c.arg("-c")
            .arg("exec \"$@\" 3<&0 4>&1 </dev/null >/dev/null")
            .arg("sh")
            .arg(base.get_program())
            .args(base.get_args())
            .arg("--remote-debugging-pipe");
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium is installed (.ci/run installs it)");
        let to = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, from) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(out);
            loop {
                let mut msg = Vec::new();
                match out.read_until(0, &mut msg) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                msg.pop();
                if let Ok(v) = serde_json::from_slice::<Value>(&msg) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Browser {
            child,
            to,
            from,
            next: 0,
        }
    }

    /// Sends a command (to a page's session when given) and waits, bounded, for its result.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        self.to.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method} in 30 s"));
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// A new page of `width` x `height` CSS pixels (`mobile`: a phone's viewport) at `url`.
    pub fn open(&mut self, url: &str, width: u32, height: u32, mobile: bool) -> Page {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        let page = Page {
            session: attached["sessionId"].as_str().unwrap().to_string(),
        };
        self.call(
            Some(&page.session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        self.call(Some(&page.session), "Page.enable", json!({}));
        self.call(Some(&page.session), "Page.navigate", json!({"url": url}));
        page
    }

    /// The value of `expression` in `page` (a promise is awaited); a thrown error fails.
    pub fn eval(&mut self, page: &Page, expression: &str) -> Value {
        let r = self.call(
            Some(&page.session),
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (a JavaScript expression) is truthy in `page`, polling in the
    /// page every 20 ms, for at most `limit`; returns how long it took, or fails with what
    /// `show` (another expression) says then.
    pub fn wait_for(
        &mut self,
        page: &Page,
        condition: &str,
        limit: Duration,
        show: &str,
    ) -> Duration {
        let start = Instant::now();
        let ms = limit.as_millis();
        let script = format!(
            "new Promise(function (done) {{ var t0 = Date.now(); (function poll() {{ \
             var ok = false; try {{ ok = !!({condition}); }} catch (e) {{}} \
             if (ok) return done(true); if (Date.now() - t0 > {ms}) return done(false); \
             setTimeout(poll, 20); }})(); }})"
        );
        if self.eval(page, &script) != json!(true) {
            panic!(
                "not within {limit:?}: {condition}\n{}",
                self.eval(page, show)
            );
        }
        start.elapsed()
    }

    /// A PNG of `page` as it is on screen.
    pub fn screenshot(&mut self, page: &Page) -> Vec<u8> {
        use base64::Engine as _;
        let r = self.call(
            Some(&page.session),
            "Page.captureScreenshot",
            json!({"format": "png"}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    /// Asks Chromium to close (killing the `timeout` wrapper would leave it running), then
    /// waits for it, bounded.
    fn drop(&mut self) {
        let _ = self
            .to
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let _ = self.to.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
