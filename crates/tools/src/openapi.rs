//! OpenAPI operations as tools.
