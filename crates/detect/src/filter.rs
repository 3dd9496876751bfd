//! What a load test of the backend leaves out: static assets and analytics beacons.

use loadtape_recording::Exchange;

use crate::finding::Dropped;
use crate::walk::path_and_query;

const ASSET_EXTENSIONS: [&str; 20] = [
    "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "bmp", "avif", "css", "js", "mjs", "map",
    "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4",
];

const ASSET_TYPES: [&str; 4] = ["image/", "font/", "text/css", "application/font"];

/// Script content types: an asset, unless the request has a query (JSONP is an API call).
const SCRIPT_TYPES: [&str; 2] = ["application/javascript", "text/javascript"];

/// Hosts that only collect analytics or logs (a suffix match on the host name).
const BEACON_HOSTS: [&str; 10] = [
    "google-analytics.com",
    "googletagmanager.com",
    "hm.baidu.com",
    "umeng.com",
    "umengcloud.com",
    "sentry.io",
    "growingio.com",
    "sensorsdata.cn",
    "log.aliyuncs.com",
    "mta.qq.com",
];

/// Last path segments of beacon endpoints.
const BEACON_PATHS: [&str; 8] = [
    "collect",
    "beacon",
    "track",
    "tracking",
    "analytics",
    "log",
    "logs",
    "report",
];

/// Why an exchange is left out of the scenario, or `None` to keep it.
pub(crate) fn dropped(e: &Exchange, keep_static: bool) -> Option<Dropped> {
    let Some(resp) = &e.response else {
        return Some(Dropped::Failed);
    };
    if keep_static {
        return None;
    }
    let (path, query) = path_and_query(&e.request.url);
    let last = path.rsplit('/').next().unwrap_or("");
    let ext = last.rsplit_once('.').map(|(_, x)| x.to_ascii_lowercase());
    let content_type = resp
        .headers
        .get("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext.is_some_and(|x| ASSET_EXTENSIONS.contains(&x.as_str()))
        || ASSET_TYPES.iter().any(|t| content_type.starts_with(t))
        || (query.is_none() && SCRIPT_TYPES.iter().any(|t| content_type.starts_with(t)))
    {
        return Some(Dropped::StaticAsset);
    }
    let host = host(&e.request.url).to_ascii_lowercase();
    if BEACON_HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
        || BEACON_PATHS.contains(&last.to_ascii_lowercase().as_str())
    {
        return Some(Dropped::Beacon);
    }
    None
}

/// The host of an absolute URL (without port or credentials).
pub(crate) fn host(url: &str) -> &str {
    let rest = url.find("://").map(|i| &url[i + 3..]).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.starts_with('[') {
        return authority.split(']').next().map(|h| &h[1..]).unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}
