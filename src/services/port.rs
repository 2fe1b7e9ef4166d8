//! Ports: pick a free one, or make sure a fixed one is free, and name the
//! program that holds a taken one.

use super::ServiceError;
use procfs::net::TcpState;
use procfs::process::FDTarget;
use std::net::{Ipv4Addr, TcpListener};

/// The address services listen on and jobs connect to.
pub(crate) const HOST: &str = "127.0.0.1";

/// A port nothing listens on right now. The kernel picks it (port 0), so two
/// runs or two worktrees starting at once get different ports.
pub(crate) fn free() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Fails with the holder's name when `port` is taken on the loopback.
pub(crate) fn ensure_free(name: &str, port: u16) -> Result<(), ServiceError> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(_) => Err(ServiceError::PortTaken {
            name: name.to_owned(),
            port,
            holder: holder(port),
        }),
    }
}

/// `pid 123 (postgres)` for the process listening on `port`, when visible.
pub(crate) fn holder(port: u16) -> Option<String> {
    let inodes: Vec<u64> = procfs::net::tcp()
        .into_iter()
        .flatten()
        .chain(procfs::net::tcp6().into_iter().flatten())
        .filter(|e| e.state == TcpState::Listen && e.local_address.port() == port)
        .map(|e| e.inode)
        .collect();
    if inodes.is_empty() {
        return None;
    }
    for process in procfs::process::all_processes().ok()?.flatten() {
        let Ok(fds) = process.fd() else { continue };
        let holds = fds
            .flatten()
            .any(|fd| matches!(fd.target, FDTarget::Socket(inode) if inodes.contains(&inode)));
        if holds {
            let comm = process
                .stat()
                .map(|s| s.comm)
                .unwrap_or_else(|_| "?".into());
            return Some(format!("pid {} ({comm})", process.pid()));
        }
    }
    Some("another program".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_names_its_holder() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = ensure_free("db", port).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("port {port}")), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(listener);
        assert!(ensure_free("db", port).is_ok());
        assert_ne!(free().unwrap(), 0);
    }
}
