//! The text fields of a recorded `multipart/form-data` body, for detection. Templating needs
//! no parser: a field's value is replaced where it stands in the body's text, so the parts,
//! their headers and the boundary go out as recorded. Hand-written because detection only
//! reads a recorded body it already holds: the multipart crates (multer, multipart) parse a
//! stream for a server, with async plumbing this needs none of.

use loadtape_recording::Headers;

/// `(name, value)` of every part without a file name; `None` when the body is not multipart.
pub(crate) fn fields(headers: &Headers, text: &str) -> Option<Vec<(String, String)>> {
    let ct = headers.get("content-type")?;
    if !ct.to_ascii_lowercase().contains("multipart/form-data") {
        return None;
    }
    let boundary = ct
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part
            .strip_prefix("\r\n")
            .or_else(|| part.strip_prefix('\n'));
        let Some(part) = part else { continue };
        let (head, body) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        if disposition.contains("filename=") {
            continue;
        }
        let name = disposition.split(';').find_map(|p| {
            p.trim()
                .strip_prefix("name=")
                .map(|n| n.trim_matches('"').to_string())
        })?;
        let value = body
            .strip_suffix("\r\n")
            .or_else(|| body.strip_suffix('\n'))
            .unwrap_or(body);
        out.push((name, value.to_string()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordpress_remove_post_lock() {
        let mut h = Headers::new();
        h.push(
            "Content-Type",
            "multipart/form-data; boundary=tzVdi14X7ctw5encoh--UCJi0vqmRizBVOGAT",
        );
        let body = "--tzVdi14X7ctw5encoh--UCJi0vqmRizBVOGAT\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nwp-remove-post-lock\r\n--tzVdi14X7ctw5encoh--UCJi0vqmRizBVOGAT\r\nContent-Disposition: form-data; name=\"post_ID\"\r\n\r\n1330\r\n--tzVdi14X7ctw5encoh--UCJi0vqmRizBVOGAT\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nxx\r\n--tzVdi14X7ctw5encoh--UCJi0vqmRizBVOGAT--\r\n";
        assert_eq!(
            fields(&h, body).unwrap(),
            [
                ("action".to_string(), "wp-remove-post-lock".to_string()),
                ("post_ID".to_string(), "1330".to_string())
            ]
        );
        assert_eq!(fields(&Headers::new(), body), None);
    }
}
