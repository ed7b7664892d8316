//! An in-memory kernel for tests (this crate's and the daemon's): the table changes as
//! the kernel's would (`ipvs::diff::apply`), with the kernel's errnos, and a test can
//! refuse operations, edit the table by hand (drift), break the socket, hold the
//! reconciler's thread in a kernel call, or set the traffic counters it lists.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ipvs::error::Request;
use ipvs::{
    BatchError, ConnCounts, DaemonState, Destination, DestinationEntry, Error, Op, Service,
    ServiceEntry, ServiceKey, Stats, SyncDaemon, Table,
};

use super::kernel::Kernel;

type Refusal = Box<dyn Fn(&Op) -> Option<i32> + Send>;

#[derive(Default)]
struct State {
    table: Table,
    daemons: Vec<SyncDaemon>,
    refusals: Vec<Refusal>,
    requests: u64,
    service_dumps: u64,
    apply_calls: u64,
    accepted: Vec<Op>,
    /// The socket fails once this many more requests have been answered.
    break_after: Option<u64>,
    broken: bool,
    reconnects: u64,
    /// Sync daemon starts fail with this errno (a missing interface: ENODEV).
    daemon_errno: Option<i32>,
    paused: bool,
    waiting: usize,
    /// Counters listed with the services and destinations (zero when not set).
    service_stats: HashMap<ServiceKey, Stats>,
    destination_stats: HashMap<(ServiceKey, IpAddr, u16), (Stats, ConnCounts)>,
}

/// A shared handle: clones see and change the same kernel.
#[derive(Clone, Default)]
pub struct FakeKernel {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl fmt::Debug for FakeKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("FakeKernel")
            .field("services", &st.table.services.len())
            .field("daemons", &st.daemons)
            .field("requests", &st.requests)
            .finish_non_exhaustive()
    }
}

impl FakeKernel {
    /// A kernel whose table starts as `table`.
    pub fn new(table: Table) -> Self {
        let fake = FakeKernel::default();
        fake.lock().table = table;
        fake
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, once the kernel is not paused (what every kernel call goes through).
    fn enter(&self) -> MutexGuard<'_, State> {
        let mut st = self.lock();
        if st.paused {
            st.waiting += 1;
            while st.paused {
                st = self.shared.1.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            st.waiting -= 1;
        }
        st
    }

    /// The table as the kernel has it now.
    pub fn table(&self) -> Table {
        self.lock().table.clone()
    }

    /// Changes the table behind the reconciler's back (an operator with ipvsadm).
    pub fn edit(&self, f: impl FnOnce(&mut Table)) {
        f(&mut self.lock().table);
    }

    /// From now on, an operation for which `refuse` gives an errno is refused with it.
    pub fn refuse(&self, refuse: impl Fn(&Op) -> Option<i32> + Send + 'static) {
        self.lock().refusals.push(Box::new(refuse));
    }

    pub fn clear_refusals(&self) {
        self.lock().refusals.clear();
    }

    /// Every table operation the kernel accepted so far, in order.
    pub fn accepted(&self) -> Vec<Op> {
        self.lock().accepted.clone()
    }

    /// Netlink requests answered (dumps, operations, daemon commands).
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Service dumps answered: how often the table was read.
    pub fn service_dumps(&self) -> u64 {
        self.lock().service_dumps
    }

    /// Batches of operations received.
    pub fn apply_calls(&self) -> u64 {
        self.lock().apply_calls
    }

    /// Sync daemon starts are refused with `errno` from now on (`None`: accepted again).
    pub fn refuse_daemon_start(&self, errno: Option<i32>) {
        self.lock().daemon_errno = errno;
    }

    pub fn running_daemons(&self) -> Vec<SyncDaemon> {
        self.lock().daemons.clone()
    }

    /// The socket fails after `requests` more requests; it stays failed until reconnected.
    pub fn break_socket_after(&self, requests: u64) {
        self.lock().break_after = Some(requests);
    }

    pub fn reconnects(&self) -> u64 {
        self.lock().reconnects
    }

    /// Holds every kernel call until [`FakeKernel::resume`].
    pub fn pause(&self) {
        self.lock().paused = true;
    }

    pub fn resume(&self) {
        self.lock().paused = false;
        self.shared.1.notify_all();
    }

    /// The counters the kernel lists for service `key` from now on.
    pub fn set_service_stats(&self, key: ServiceKey, stats: Stats) {
        self.lock().service_stats.insert(key, stats);
    }

    /// The counters the kernel lists for destination `addr`:`port` of service `key`.
    pub fn set_destination_stats(
        &self,
        key: ServiceKey,
        (addr, port): (IpAddr, u16),
        stats: Stats,
        conns: ConnCounts,
    ) {
        self.lock().destination_stats.insert((key, addr, port), (stats, conns));
    }

    /// Kernel calls held by [`FakeKernel::pause`] right now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }
}

impl State {
    /// Counts one request; fails when the socket is (or just became) broken.
    fn request(&mut self) -> Result<(), Error> {
        if self.break_after == Some(0) {
            self.break_after = None;
            self.broken = true;
        }
        if self.broken {
            return Err(Error::Io(std::io::Error::from_raw_os_error(libc::ECONNRESET)));
        }
        if let Some(n) = &mut self.break_after {
            *n -= 1;
        }
        self.requests += 1;
        Ok(())
    }

    fn execute(&mut self, op: &Op) -> Result<(), Error> {
        let refused = self.refusals.iter().find_map(|refuse| refuse(op));
        if let Some(errno) = refused {
            return Err(Error::Kernel { request: Request::Op(op.clone()), errno });
        }
        let has_service = self.table.services.iter().any(|s| &s.service.key == op.service_key());
        ipvs::diff::apply(&mut self.table, std::slice::from_ref(op)).map_err(|_| {
            let errno = match op {
                Op::AddService(_) | Op::AddDestination(..) if has_service => libc::EEXIST,
                _ if !has_service => libc::ESRCH,
                _ => libc::ENOENT,
            };
            Error::Kernel { request: Request::Op(op.clone()), errno }
        })?;
        self.accepted.push(op.clone());
        Ok(())
    }

    /// Sends `ops` the way `Client::apply` does; returns false when the socket failed.
    fn apply_phase(&mut self, ops: &[&Op], report: &mut BatchError) -> bool {
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = self.request() {
                report.unconfirmed += ops.len() - i;
                report.failed.push(e);
                return false;
            }
            if let Err(e) = self.execute(op) {
                report.failed.push(e);
            }
        }
        true
    }
}

impl Kernel for FakeKernel {
    fn services(&mut self) -> Result<Vec<Service>, Error> {
        let mut st = self.enter();
        st.request()?;
        st.service_dumps += 1;
        Ok(st.table.services.iter().map(|s| s.service.clone()).collect())
    }

    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, Error> {
        let mut st = self.enter();
        st.request()?;
        let service = st.table.services.iter().find(|s| &s.service.key == key);
        match service {
            Some(s) => Ok(s.destinations.clone()),
            None => Err(Error::Kernel {
                request: Request::Other(format!("list destinations of service {key}")),
                errno: libc::ESRCH,
            }),
        }
    }

    fn service_stats(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        let services = self.services()?;
        let st = self.lock();
        let stats = |key: &ServiceKey| st.service_stats.get(key).copied().unwrap_or_default();
        Ok(services
            .into_iter()
            .map(|s| ServiceEntry { stats: stats(&s.key), service: s })
            .collect())
    }

    fn destination_stats(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, Error> {
        let destinations = self.destinations(key)?;
        let st = self.lock();
        Ok(destinations
            .into_iter()
            .map(|d| {
                let (stats, conns) =
                    st.destination_stats.get(&(*key, d.addr, d.port)).copied().unwrap_or_default();
                DestinationEntry { destination: d, conns, stats }
            })
            .collect())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), BatchError> {
        let mut st = self.enter();
        st.apply_calls += 1;
        let (services, destinations) = ipvs::op::services_first(ops);
        let mut report = BatchError { total: ops.len(), failed: Vec::new(), unconfirmed: 0 };
        if st.apply_phase(&services, &mut report) {
            let destinations = report.skip_refused(destinations);
            st.apply_phase(&destinations, &mut report);
        } else {
            report.unconfirmed += destinations.len();
        }
        if report.failed.is_empty() {
            Ok(())
        } else {
            Err(report)
        }
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        let mut st = self.enter();
        st.request()?;
        Ok(st.daemons.clone())
    }

    fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Error> {
        let mut st = self.enter();
        st.request()?;
        let what =
            Request::Other(format!("start sync daemon {:?} on {}", daemon.state, daemon.mcast_ifn));
        if let Some(errno) = st.daemon_errno {
            return Err(Error::Kernel { request: what, errno });
        }
        if st.daemons.iter().any(|d| d.state == daemon.state) {
            return Err(Error::Kernel { request: what, errno: libc::EEXIST });
        }
        // What the kernel fills in when the request leaves it out.
        let mut running = daemon.clone();
        running.sync_maxlen.get_or_insert(1472);
        running.mcast_group.get_or_insert([224, 0, 0, 81].into());
        running.mcast_port.get_or_insert(8848);
        running.mcast_ttl.get_or_insert(1);
        st.daemons.push(running);
        Ok(())
    }

    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        let mut st = self.enter();
        st.request()?;
        st.request()?; // the client's barrier
        match st.daemons.iter().position(|d| d.state == state) {
            Some(i) => {
                st.daemons.remove(i);
                Ok(())
            }
            None => Err(Error::Kernel {
                request: Request::Other(format!("stop sync daemon {state:?}")),
                errno: libc::ESRCH,
            }),
        }
    }

    fn requests_sent(&self) -> u64 {
        self.lock().requests
    }

    fn reconnect(&mut self) -> Result<(), Error> {
        let mut st = self.enter();
        st.reconnects += 1;
        st.broken = false;
        Ok(())
    }
}
