//! Every VU task runs inside [`guarded`]: a panic in it (a bug in loadtape, never the
//! scenario's doing) ends the run as failed with the panic's message. Without it tokio
//! swallows the panic with the task, and a run one VU short, whose missing requests nobody
//! counted, could still pass.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::ctx::Ctx;

/// `task`, with its panic turned into the run's failure.
pub(super) fn guarded(ctx: Rc<Ctx>, task: impl Future<Output = ()>) -> impl Future<Output = ()> {
    on_panic(task, move |message| {
        ctx.control.internal(
            format!(
                "a VU stopped on an internal error, a bug in loadtape (please report it with \
                 the scenario); the run stops. The error: {message}"
            ),
            |detail| ctx.say(format_args!("error: {detail}")),
        );
    })
}

/// Runs `task`; if a poll of it panics, calls `then` with the panic's message and ends.
async fn on_panic(task: impl Future<Output = ()>, then: impl FnOnce(String)) {
    if let Err(payload) = (CatchUnwind(Box::pin(task))).await {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".into());
        then(message);
    }
}

type Panic = Box<dyn std::any::Any + Send>;

struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future<Output = ()>> Future for CatchUnwind<F> {
    type Output = Result<(), Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The task is dropped right after a panic, never polled again: whatever state the
        // panic left it in is not seen.
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_after_an_await_is_caught_with_its_message() {
        let said = Rc::new(RefCell::new(Vec::new()));
        for (i, task) in [
            Box::pin(async {
                tokio::task::yield_now().await;
                panic!("index out of bounds: {}", 7);
            }) as Pin<Box<dyn Future<Output = ()>>>,
            Box::pin(async { panic!("a static message") }),
            Box::pin(async { tokio::task::yield_now().await }),
        ]
        .into_iter()
        .enumerate()
        {
            let said = said.clone();
            on_panic(task, move |m| said.borrow_mut().push((i, m))).await;
        }
        assert_eq!(
            *said.borrow(),
            [
                (0, "index out of bounds: 7".to_string()),
                (1, "a static message".to_string())
            ]
        );
    }
}
