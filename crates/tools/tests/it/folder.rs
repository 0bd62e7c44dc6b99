//! tools/ folder discovery.
