//! A worker's VU tasks, counted, so that the worker can wait for all of them (with a grace
//! period once the run stops) before it sends its totals.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use tokio::sync::Notify;

/// Counts running tasks so the worker can wait for all of them.
#[derive(Default)]
pub struct Tasks {
    running: Cell<usize>,
    idle: Notify,
}

impl Tasks {
    pub fn spawn(self: &Rc<Self>, f: impl Future<Output = ()> + 'static) {
        self.running.set(self.running.get() + 1);
        let me = self.clone();
        tokio::task::spawn_local(async move {
            f.await;
            me.running.set(me.running.get() - 1);
            if me.running.get() == 0 {
                me.idle.notify_waiters();
            }
        });
    }

    pub async fn all_done(&self) {
        loop {
            let n = self.idle.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.running.get() == 0 {
                return;
            }
            n.await;
        }
    }
}
