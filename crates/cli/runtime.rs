//! The async runtime and the stop signal every long-running command shares.

use crate::exit::Failure;

/// Builds the tokio runtime every async command runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

/// Resolves on Ctrl-C, or SIGTERM where there is one (a container being stopped).
pub async fn wait_for_stop() {
    stop_signal().await
}

/// As [`wait_for_stop`], with the handlers installed now rather than when first awaited: a
/// command that says it is ready and then waits must take them first, or a SIGTERM sent
/// right after its ready line kills it with the default action before it saves anything.
/// Call it inside the runtime.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, interrupt) {
                (Some(mut term), Some(mut interrupt)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
