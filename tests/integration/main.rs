//! End-to-end tests of the `loadtape` binary: real processes, real sockets on loopback, real
//! clients.

mod browser;
mod check_failures;
mod cli;
mod convert;
mod demo;
mod har;
mod honest;
mod pipeline;
mod readme;
mod record;
mod record_faults;
mod record_limits;
mod record_upstream;
mod report;
mod run;
mod session_shapes;
mod shop;
mod shop_users;
mod structure;
mod testbed;
mod util;
mod webapp;
