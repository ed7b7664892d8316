//! `make demo`: the main job in one run. The lab of [`crate::topology`] with two
//! directord running the example configs from etc/demo, a client sending requests to
//! the VIP all along, and the story an operator wants to see: traffic split by
//! weight, a real server failing and leaving, all failing and the sorry server
//! answering, recovery, the MASTER dying and the BACKUP taking over, the MASTER coming
//! back. Each step prints `directorctl status` and `ipvsadm -Ln`, waits for what
//! should happen and measures how long it took; a timeline closes the run. Any step
//! that does not happen within its bound ends the demo with an error.

mod plan;
mod story;
mod traffic;

pub use plan::Plan;
pub use story::{run, Demo};
pub use traffic::{Sample, Traffic};
