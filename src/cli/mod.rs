//! Command-line definitions and output. (skeleton)
