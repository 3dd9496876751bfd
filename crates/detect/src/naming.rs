//! Names for steps and variables: readable, unique, and valid in the scenario format.

use std::collections::HashSet;

use loadtape_scenario::template::{is_valid_name, Func};

use crate::walk::{decode_component, path_and_query};

/// Hands out unique names.
#[derive(Default)]
pub(crate) struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// Function names are reserved, and so are the names the converter itself uses.
    pub(crate) fn for_variables() -> Names {
        let mut n = Names::default();
        for f in Func::ALL {
            n.taken.insert(f.name().to_string());
        }
        for reserved in ["appid", "secret", "expires_in", "tokens", "logins", "users"] {
            n.taken.insert(reserved.to_string());
        }
        n
    }

    /// Marks a name as used (a variable that already exists).
    pub(crate) fn take(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    /// `base`, or `base_2`, `base_3`... whichever is free first.
    pub(crate) fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 2;
        while self.taken.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

/// A variable name from a field name: `goodsId` → `goodsId`, `X-Token` → `x_token`,
/// `3rd_session` → `v3rd_session`.
pub(crate) fn variable(raw: &str) -> Option<String> {
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s = s.trim_matches('_').to_string();
    if s.is_empty() {
        return None;
    }
    if raw.contains('-') {
        s = s.to_ascii_lowercase();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'v');
    }
    is_valid_name(&s).then_some(s)
}

/// Names that say nothing alone (`id`, `value`): the step name is put in front.
pub(crate) fn is_generic(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "id" | "value" | "data" | "result" | "key" | "authorization" | "cookie" | "item" | "v"
    )
}

/// A step name from the URL path: its last segments that are words, not ids (`/api/goods/
/// g1x0abc` → `goods_detail`, `/cgi-bin/token` → `token`).
pub(crate) fn step(url: &str, form: Option<&str>, is_id: impl Fn(&str) -> bool) -> String {
    let (path, query) = path_and_query(url);
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_component)
        .collect();
    let mut words: Vec<String> = Vec::new();
    let mut had_id = false;
    for seg in segments.iter().rev() {
        if is_id(seg) || seg.bytes().all(|b| b.is_ascii_digit()) {
            had_id = true;
            continue;
        }
        let stem = seg.rsplit_once('.').map(|(s, _)| s).unwrap_or(seg);
        if let Some(w) = variable(stem) {
            words.push(w);
        }
        break;
    }
    // Alipay's gateway: the API is the `method` parameter (query or form), not the path.
    let method = [query, form].into_iter().flatten().find_map(|q| {
        crate::walk::pairs(q)
            .into_iter()
            .find(|(k, _)| k == "method")
            .map(|(_, v)| v)
    });
    if let Some(m) = method {
        if let Some(w) = variable(&m.replace('.', "_")) {
            words = vec![w];
        }
    }
    let mut name = words.pop().unwrap_or_else(|| "root".into());
    if had_id {
        name.push_str("_detail");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables() {
        assert_eq!(variable("goodsId").as_deref(), Some("goodsId"));
        assert_eq!(variable("X-Token").as_deref(), Some("x_token"));
        assert_eq!(variable("3rd_session").as_deref(), Some("v3rd_session"));
        assert_eq!(variable("--"), None);
    }

    #[test]
    fn steps() {
        let id = |s: &str| s.starts_with("g1x");
        assert_eq!(
            step("https://a/api/goods/g1x0abcdef12", None, id),
            "goods_detail"
        );
        assert_eq!(step("https://a/api/goods?page=1", None, id), "goods");
        assert_eq!(step("https://a/cgi-bin/token?x=1", None, id), "token");
        assert_eq!(step("https://a/", None, id), "root");
        assert_eq!(
            step(
                "https://a/gateway.do",
                Some("a=1&method=alipay.system.oauth.token"),
                id
            ),
            "alipay_system_oauth_token"
        );
        let mut n = Names::for_variables();
        assert_eq!(n.unique("goods"), "goods");
        assert_eq!(n.unique("goods"), "goods_2");
        assert_eq!(n.unique("uuid"), "uuid_2");
    }
}
