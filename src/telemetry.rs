//! tracing setup. (skeleton)
