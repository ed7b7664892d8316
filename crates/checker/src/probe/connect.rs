//! The checked connection: source address, SO_MARK, timeout, and a TCP check.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::outcome::{Failure, ProbeReport};
use crate::spec::Target;

/// Connects to the target within `timeout`.
pub(crate) async fn connect(target: &Target, timeout: Duration) -> Result<TcpStream, Failure> {
    let socket = socket(target).map_err(|e| Failure::Connect(e.to_string()))?;
    match tokio::time::timeout(timeout, socket.connect(target.connect)).await {
        Err(_) => Err(Failure::ConnectTimeout(timeout)),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Failure::Refused),
        Ok(Err(e)) => Err(Failure::Connect(e.to_string())),
        Ok(Ok(stream)) => Ok(stream),
    }
}

fn socket(target: &Target) -> io::Result<TcpSocket> {
    let socket = match target.connect {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(mark) = target.fwmark {
        socket2::SockRef::from(&socket)
            .set_mark(mark)
            .map_err(|e| io::Error::new(e.kind(), format!("SO_MARK {mark}: {e}")))?;
    }
    if let Some(source) = target.bind_to {
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| io::Error::new(e.kind(), format!("bind to {source}: {e}")))?;
    }
    Ok(socket)
}

/// keepalived's TCP_CHECK: the connection opens in time, then closes at once.
pub(crate) async fn tcp(target: &Target, timeout: Duration) -> ProbeReport {
    let start = Instant::now();
    match connect(target, timeout).await {
        Ok(stream) => {
            // Close with a reset: no FIN exchange and no TIME_WAIT socket per
            // probe, which matters at thousands of probes a second.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            ProbeReport::up(start.elapsed())
        }
        Err(failure) => ProbeReport::down(failure, start.elapsed()),
    }
}
