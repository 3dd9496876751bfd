//! What the tool tells a user when there is nothing to go on with: one wording, used by every
//! command that can end up with an empty recording, so that no `next:` hint points at a
//! command that would only fail.

/// Why a recording can be empty, and what to check, in the order a tester can check it.
pub fn nothing_reached_the_proxy() -> String {
    format!(
        "no request reached the proxy. Check, on the device: its Wi-Fi proxy is this machine's \
         address and the proxy's port (same network, and this machine's firewall lets the port \
         in); the CA is installed and trusted (open http://{}/ on the device); then, here: the \
         device's address is allowed (`--allow-client`), and `--include` names the app's hosts",
        loadtape_proxy::MAGIC_HOST
    )
}
