//! Integration tests for `loadtape-testbed`: real sockets on 127.0.0.1, port 0.

mod http;
mod session;
mod session2;
mod support;
mod synthetic;
mod tls;
mod webapp;
