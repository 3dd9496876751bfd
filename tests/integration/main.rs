//! End-to-end tests of the `loadtape` binary: real processes, real sockets on loopback, real
//! clients.

mod browser;
mod check_failures;
mod cli;
mod convert;
mod demo;
mod faults;
mod fuzz;
mod har;
mod honest;
mod hostile_input;
mod merge_limits;
mod pipeline;
mod readme;
mod record;
mod record_faults;
mod report;
mod run;
mod session_shapes;
mod shop;
mod shop_users;
mod structure;
mod testbed;
mod util;
mod webapp;
