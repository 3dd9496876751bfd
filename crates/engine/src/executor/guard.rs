//! Every VU task runs inside [`guarded`]: a panic in it (a bug in loadtape, never the
//! scenario's doing) ends the run as failed with the panic's message. Without it tokio
//! swallows the panic with the task, and a run one VU short, whose missing requests nobody
//! counted, could still pass.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

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

/// A VU counted as active while this lives: dropped with the VU's task, it is uncounted even
/// when the task ended on a panic, or was dropped unfinished at the run's end.
/// It borrows the VU's context (no reference count touched per iteration).
pub(super) struct Active<'a>(&'a Ctx);

impl Active<'_> {
    pub(super) fn new(ctx: &Ctx) -> Active<'_> {
        ctx.metrics.borrow_mut().note_active(1);
        Active(ctx)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        // Never a second panic from a drop: a count held elsewhere at that moment is skipped.
        if let Ok(mut m) = self.0.metrics.try_borrow_mut() {
            m.note_active(-1);
        }
    }
}

/// Runs `task`; if a poll of it panics, calls `then` with the panic's message and ends.
fn on_panic<F: Future<Output = ()>, G: FnOnce(String)>(task: F, then: G) -> OnPanic<F, G> {
    OnPanic {
        task,
        then: Some(then),
    }
}

pin_project! {
    /// A named future, not an `async` block around `task`: an `async` wrapper keeps its
    /// captured `task` in its own state beside the pinned copy it polls, so every VU's state
    /// was held twice (RSS of 100,000 VUs 490 → 800 MiB). Here the task is stored once, inline.
    struct OnPanic<F, G> {
        #[pin]
        task: F,
        then: Option<G>,
    }
}

impl<F: Future<Output = ()>, G: FnOnce(String)> Future for OnPanic<F, G> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // After a panic the task is never polled again (Ready ends it): whatever state the
        // panic left it in is not seen.
        match catch_unwind(AssertUnwindSafe(|| this.task.poll(cx))) {
            Ok(p) => p,
            Err(payload) => {
                if let Some(then) = this.then.take() {
                    then(message(&*payload));
                }
                Poll::Ready(())
            }
        }
    }
}

/// A panic's message: the `&str` or `String` it was given.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// The guard holds its task inline and once: a VU's state is not copied beside it nor
    /// moved to a second allocation (100,000 VUs cost ~300 MiB more when it was).
    #[tokio::test(flavor = "current_thread")]
    async fn the_task_is_held_inline_and_once() {
        let seen = std::cell::Cell::new(0usize);
        let task = async {
            let state = [7u8; 4096];
            tokio::task::yield_now().await;
            seen.set(std::hint::black_box(&state) as *const _ as usize);
        };
        let alone = std::mem::size_of_val(&task);
        let mut guard = std::pin::pin!(on_panic(task, |_| {}));
        let size = std::mem::size_of_val(&*guard);
        assert!(
            size < alone + 64,
            "guard {size} B around a task of {alone} B"
        );
        std::future::poll_fn(|cx| guard.as_mut().poll(cx)).await;
        let at = &*guard as *const _ as usize;
        assert!(
            (at..at + size).contains(&seen.get()),
            "the task's state lives in the guard, not in an allocation of its own"
        );
    }

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
