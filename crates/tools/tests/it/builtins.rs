//! The built-in tools on real files and a real repository.
