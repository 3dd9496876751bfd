//! End-to-end tests of the `loadtape` binary: real processes, real sockets on loopback, real
//! clients.

mod cli;
mod testbed;
mod util;
