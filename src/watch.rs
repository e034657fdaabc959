//! The compiled watchlist. (skeleton)

use crate::config::TopicSpec;
use crate::model::TagMatch;

/// Why a watchlist could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A topic is unusable.
    #[error("topic {topic:?}: {reason}")]
    BadTopic {
        /// Topic name.
        topic: String,
        /// What is wrong.
        reason: String,
    },
}

/// All topics compiled into one matcher.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    topics: Vec<TopicSpec>,
}

impl Watchlist {
    /// Compiles the topics.
    pub fn new(topics: &[TopicSpec]) -> Result<Watchlist, WatchError> {
        Ok(Watchlist {
            topics: topics.to_vec(),
        })
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// True when there are no topics.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// The matches of every topic that applies to this title and text (plain text).
    pub fn tag(&self, title: &str, text: &str) -> Vec<TagMatch> {
        let _ = (title, text);
        Vec::new()
    }
}
