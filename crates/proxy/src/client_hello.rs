//! Reading the server name out of a ClientHello before rustls does, for the one case rustls
//! 0.23 cannot take: a name with a port (`localhost:8443`), as the `hey` load tool and some
//! HTTP clients send. rustls refuses the whole handshake with `illegal_parameter`, and no
//! setting of 0.23 lets it through (0.24's `InvalidSniPolicy` will); rewriting the name is
//! no way out either, since the ClientHello's bytes are in the handshake transcript both sides
//! sign. So such a connection is tunnelled blind to the CONNECT host — the client's request
//! still works, it is not recorded, and the tester is told why — instead of failing.

use tls_parser::{
    parse_tls_extensions, parse_tls_plaintext, SNIType, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

/// The server name of the ClientHello at the start of `bytes` when it carries a port; `None`
/// for a usable name, no name, or bytes that do not hold a whole ClientHello record (rustls
/// then reads it, and says what is wrong with it).
pub(crate) fn name_with_port(bytes: &[u8]) -> Option<String> {
    let (_, record) = parse_tls_plaintext(bytes).ok()?;
    let hello = record.msg.iter().find_map(|m| match m {
        TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) => Some(ch),
        _ => None,
    })?;
    let (_, extensions) = parse_tls_extensions(hello.ext?).ok()?;
    extensions.iter().find_map(|e| match e {
        TlsExtension::SNI(names) => names.iter().find_map(|(kind, name)| {
            let name = std::str::from_utf8(name).ok()?;
            (*kind == SNIType::HostName && has_port(name)).then(|| name.to_string())
        }),
        _ => None,
    })
}

/// `host:port` with a numeric port (an IPv6 literal is never a server name).
fn has_port(name: &str) -> bool {
    name.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TLS 1.2 ClientHello record naming `name`.
    fn client_hello(name: &str) -> Vec<u8> {
        let n = name.as_bytes();
        let mut sni = Vec::new();
        sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
        sni.extend_from_slice(n);
        let mut ext = vec![0, 0];
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(&sni);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn a_name_with_a_port_is_found_and_others_are_left_to_rustls() {
        assert_eq!(
            name_with_port(&client_hello("localhost:8443")).as_deref(),
            Some("localhost:8443")
        );
        assert_eq!(name_with_port(&client_hello("api.example.com")), None);
        let whole = client_hello("localhost:8443");
        assert_eq!(name_with_port(&whole[..whole.len() / 2]), None);
        assert_eq!(name_with_port(b"GET / HTTP/1.1\r\n"), None);
    }
}
