//! Depot selection (placeholder, filled in below).
