//! Whether a run's VUs fit this machine, asked before the run starts: a count that cannot fit
//! (`vus: 1000000000`) is bad input with the way to split it, not an allocation abort minutes
//! in, and a count past the open-file limit is not a run of `connect` errors.

use anyhow::{anyhow, Result};

/// Memory one VU takes at most, with its connection's buffers: 10,000 VUs hold ~284 MiB
/// (~21 KB each, README "Benchmarks, memory"), and a TLS connection's buffers add more.
pub const BYTES_PER_VU: u64 = 48 << 10;

/// Descriptors the process needs besides one connection per VU: the runtime, the result and
/// timeline files, data files, the token steps' connections.
const RESERVED_FILES: u64 = 256;

/// Raises the soft open-file limit to the hard one (as Go's runtime does): a VU holds a
/// connection, and a soft limit of 1,024 is a shell default, not a decision. Returns the limit
/// in force afterwards.
pub fn raise_open_files() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Memory the kernel says is available for a new process (`MemAvailable`), when it says.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// Refuses `vus` that this machine cannot hold, naming what is short and how to split the
/// load over machines with `--segment K/N`.
pub fn check(vus: u32, open_files: u64) -> Result<()> {
    check_against(u64::from(vus), open_files, available_memory())
}

fn check_against(vus: u64, open_files: u64, memory: Option<u64>) -> Result<()> {
    let split = |fit: u64| {
        let machines = vus.div_ceil(fit.max(1)).max(2);
        format!(
            "split the load over {machines} machines with `--segment 1/{machines}` … \
             `--segment {machines}/{machines}` (README: Scale out), or lower `vus`"
        )
    };
    if let Some(memory) = memory {
        let fit = memory / 10 * 9 / BYTES_PER_VU;
        if vus > fit {
            return Err(anyhow!(
                "{vus} VUs need about {} of memory ({} each) and this machine has {} available, \
                 enough for about {fit}: {}",
                loadtape_report::units::bytes(vus.saturating_mul(BYTES_PER_VU)),
                loadtape_report::units::bytes(BYTES_PER_VU),
                loadtape_report::units::bytes(memory),
                split(fit)
            ));
        }
    }
    let fit = open_files.saturating_sub(RESERVED_FILES);
    if vus > fit {
        return Err(anyhow!(
            "{vus} VUs need a connection each and this process may open {open_files} files \
             (`ulimit -Hn`), enough for about {fit}: raise the hard limit, or {}",
            split(fit)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_that_fit_pass_and_others_say_how_to_split() {
        let gib = 1u64 << 30;
        assert!(check_against(10_000, 20_000, Some(24 * gib)).is_ok());
        assert!(check_against(10_000, 20_000, None).is_ok());
        let e = check_against(1_000_000_000, 20_000, Some(24 * gib)).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("1000000000 VUs need about"), "{e}");
        assert!(e.contains("--segment 1/"), "{e}");
        let e = check_against(30_000, 20_000, None).unwrap_err().to_string();
        assert!(e.contains("may open 20000 files"), "{e}");
        assert!(e.contains("--segment 1/2"), "{e}");
    }
}
