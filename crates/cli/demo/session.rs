//! A scripted WeChat mini-program session, played through the recording proxy.
//!
//! It behaves like the WeChat client on a phone: it opens a CONNECT tunnel through the proxy,
//! speaks TLS trusting the loadtape CA (as a device that installed it), offers h2 and
//! http/1.1, and sends the headers a mini program sends (the servicewechat Referer and the
//! MicroMessenger user agent), so that the recording looks like one made from a real phone.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{pem::PemObject as _, CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const USER_AGENT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN";

/// What the session saw, for the demo to print.
#[derive(Debug, Default)]
pub struct Played {
    pub requests: u32,
    pub orders: u32,
}

/// One tunnel through the proxy, HTTP/2 or HTTP/1.1 as the server chose.
enum Conn {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

pub struct MiniProgram {
    conn: Conn,
    base: String,
    appid: String,
    referer: String,
    played: Played,
}

impl MiniProgram {
    /// Connects to `base` (`https://localhost:PORT`) through the proxy at `proxy`.
    pub async fn connect(
        proxy: SocketAddr,
        ca_pem: &str,
        base: &str,
        appid: &str,
    ) -> Result<MiniProgram> {
        let authority = base
            .strip_prefix("https://")
            .ok_or_else(|| anyhow!("{base} is not https"))?;
        let host = authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
            .to_string();
        let mut tcp = TcpStream::connect(proxy)
            .await
            .with_context(|| format!("cannot reach the proxy at {proxy}"))?;
        tcp.write_all(
            format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await? == 0 || head.len() > 8192 {
                bail!("the proxy closed the tunnel before answering CONNECT");
            }
            head.push(byte[0]);
        }
        let status = String::from_utf8_lossy(&head);
        if !status.starts_with("HTTP/1.1 200") {
            bail!(
                "the proxy refused CONNECT: {}",
                status.lines().next().unwrap_or("")
            );
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.context("the loadtape CA is not PEM")?)?;
        }
        let mut tls =
            rustls::ClientConfig::builder_with_provider(loadtape_proxy::crypto_provider())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let name = ServerName::try_from(host)?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .context("TLS through the proxy failed: the device would not trust the loadtape CA")?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        let conn = if h2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Conn::H2(send)
        } else {
            let (send, conn) = http1::handshake(io).await?;
            tokio::spawn(conn);
            Conn::H1(send)
        };
        Ok(MiniProgram {
            conn,
            base: base.to_string(),
            appid: appid.to_string(),
            referer: format!("https://servicewechat.com/{appid}/3/page-frame.html"),
            played: Played::default(),
        })
    }

    /// The flow a shop mini program runs: platform token (the PTS "token step"), wx.login →
    /// session, goods list → detail, profile, order. Returns what it played.
    pub async fn play(mut self, secret: &str) -> Result<Played> {
        let token = self
            .call(
                Method::GET,
                &format!(
                    "/cgi-bin/token?grant_type=client_credential&appid={}&secret={secret}",
                    self.appid
                ),
                None,
                None,
            )
            .await?;
        let access_token = text(&token, "/access_token")?;
        let code = format!("0{}", &uuid_like()[..31]);
        let login = self
            .call(
                Method::POST,
                "/api/login",
                Some(json!({ "code": code })),
                None,
            )
            .await?;
        let session = text(&login, "/token")?;
        let bearer = format!("Bearer {session}");
        let list = self
            .call(Method::GET, "/api/goods?page=1", None, Some(&bearer))
            .await?;
        let ids: Vec<String> = list["data"]
            .as_array()
            .ok_or_else(|| anyhow!("the goods list has no data"))?
            .iter()
            .take(2)
            .filter_map(|g| g["id"].as_str().map(str::to_string))
            .collect();
        for id in &ids {
            self.call(
                Method::GET,
                &format!("/api/goods/{id}"),
                None,
                Some(&bearer),
            )
            .await?;
        }
        self.call(Method::GET, "/api/profile", None, Some(&bearer))
            .await?;
        let goods = ids
            .first()
            .ok_or_else(|| anyhow!("the goods list is empty"))?;
        let order = self
            .call(
                Method::POST,
                &format!("/api/order?access_token={access_token}"),
                Some(json!({ "goods_id": goods, "quantity": 1 })),
                None,
            )
            .await?;
        if order["errcode"] != 0 {
            bail!("the order was refused: {order}");
        }
        self.played.orders += 1;
        Ok(self.played)
    }

    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: Option<&str>,
    ) -> Result<Value> {
        let mut req = Request::builder()
            .method(method.clone())
            .header("user-agent", USER_AGENT)
            .header("referer", &self.referer)
            .header("accept", "application/json");
        let payload = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(&v)?)
            }
            None => Bytes::new(),
        };
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let response = match &mut self.conn {
            Conn::H2(send) => {
                let req = req
                    .uri(format!("{}{path}", self.base))
                    .body(Full::new(payload))?;
                send.send_request(req).await?
            }
            Conn::H1(send) => {
                let authority = self.base.trim_start_matches("https://").to_string();
                let req = req
                    .uri(path)
                    .header("host", authority)
                    .body(Full::new(payload))?;
                send.ready().await?;
                send.send_request(req).await?
            }
        };
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        self.played.requests += 1;
        let value: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{method} {path}: not JSON ({status})"))?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }
}

fn text(v: &Value, pointer: &str) -> Result<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no {pointer} in {v}"))
}

/// A wx.login-like code: 32 random characters.
fn uuid_like() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
