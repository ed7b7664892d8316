//! Runs a [`crate::machine::Router`] on tokio with the [`crate::linux`] primitives.
