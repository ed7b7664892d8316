//! What the reconciler needs from the kernel, so that tests can put a fake in its place.

use std::collections::BTreeSet;

use ipvs::{
    BatchError, Client, DaemonState, Destination, DestinationEntry, Error, ListedService, Op,
    Service, ServiceEntry, ServiceKey, SyncDaemon, Table, TableService,
};

/// The IPVS table and sync daemons of one kernel. Blocking: it runs on the reconciler's
/// own thread.
pub trait Kernel {
    /// Every service (one dump), without destinations.
    fn services(&mut self) -> Result<Vec<Service>, Error>;
    /// The destinations of one service (one dump).
    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, Error>;
    /// Every service with its traffic counters (one dump).
    fn service_stats(&mut self) -> Result<Vec<ServiceEntry>, Error>;
    /// The destinations of one service with their counters (one dump).
    fn destination_stats(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, Error>;
    /// Applies operations; a refused one is reported and the others still apply
    /// (see [`Client::apply`]).
    fn apply(&mut self, ops: &[Op]) -> Result<(), BatchError>;
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error>;
    fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Error>;
    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error>;
    /// Netlink requests sent on the current connection.
    fn requests_sent(&self) -> u64;
    /// Replaces a connection whose socket failed.
    fn reconnect(&mut self) -> Result<(), Error>;
}

impl Kernel for Client {
    fn services(&mut self) -> Result<Vec<Service>, Error> {
        Ok(Client::services(self)?.into_iter().map(|e| e.service).collect())
    }

    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, Error> {
        Ok(Client::destinations(self, key)?.into_iter().map(|e| e.destination).collect())
    }

    fn service_stats(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        Client::services(self)
    }

    fn destination_stats(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, Error> {
        Client::destinations(self, key)
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), BatchError> {
        Client::apply(self, ops)
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        Client::daemons(self)
    }

    fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Error> {
        Client::start_daemon(self, daemon)
    }

    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        Client::stop_daemon(self, state)
    }

    fn requests_sent(&self) -> u64 {
        Client::requests_sent(self)
    }

    fn reconnect(&mut self) -> Result<(), Error> {
        *self = Client::connect()?;
        Ok(())
    }
}

/// The services among `keys` that the kernel has, with their destinations: one dump of
/// the services and one per service kept. Other services are not read.
pub fn read_services(
    kernel: &mut impl Kernel,
    keys: &BTreeSet<ServiceKey>,
) -> Result<Table, Error> {
    let mut services = Vec::new();
    for service in kernel.services()? {
        if keys.contains(&service.key) {
            let destinations = kernel.destinations(&service.key)?;
            services.push(TableService { service, destinations });
        }
    }
    Ok(Table { services })
}

/// The services among `keys` that the kernel has, with their destinations and every
/// counter, as `ipvsadm -Ln --stats` reads them: one dump of the services and one per
/// service kept. A service deleted between the two dumps is left out.
pub fn read_stats(
    kernel: &mut impl Kernel,
    keys: &BTreeSet<ServiceKey>,
) -> Result<Vec<ListedService>, Error> {
    let mut listed = Vec::new();
    for entry in kernel.service_stats()? {
        if !keys.contains(&entry.service.key) {
            continue;
        }
        match kernel.destination_stats(&entry.service.key) {
            Ok(destinations) => listed.push(ListedService { entry, destinations }),
            Err(e) if e.errno() == Some(libc::ESRCH) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(listed)
}

/// A running daemon is the wanted one when role, interface and sync id match, and every
/// optional setting the wanted one names (the kernel fills in defaults for the others).
pub fn daemon_matches(want: &SyncDaemon, running: &SyncDaemon) -> bool {
    fn same<T: PartialEq>(want: &Option<T>, running: &Option<T>) -> bool {
        want.is_none() || want == running
    }
    want.state == running.state
        && want.mcast_ifn == running.mcast_ifn
        && want.sync_id == running.sync_id
        && same(&want.sync_maxlen, &running.sync_maxlen)
        && same(&want.mcast_group, &running.mcast_group)
        && same(&want.mcast_port, &running.mcast_port)
        && same(&want.mcast_ttl, &running.mcast_ttl)
}
