//! End-to-end tests of the `loadtape` binary: real processes, real sockets on loopback, real
//! clients.

mod browser;
mod cli;
mod record;
mod testbed;
mod util;
