//! `refresh(feed)`: the pipeline in order. (skeleton)
