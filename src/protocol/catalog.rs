//! What a node tells the world about its objects: summaries (never values) and the search
//! query that selects them.

use super::ObjectId;

/// What search returns about an object: never its values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectSummary {
    /// The object's id.
    pub id: ObjectId,
    /// Its description.
    pub description: String,
    /// Its tags, in the order they were published.
    pub tags: Vec<String>,
    /// The shape of its tensor.
    pub shape: Vec<usize>,
}

/// A search over stored objects: every given tag must be among the object's tags (exact,
/// case-sensitive), and every word of `text`, if any, must occur as a whole word in the
/// description (case-insensitive). An empty query matches every object.
///
/// ```
/// use privgrid::protocol::SearchQuery;
///
/// let q = SearchQuery::tags(["#February", "#birth-records"]).with_text("weight");
/// assert!(q.matches("Births: weight (kg), height (cm)", &["#birth-records".into(), "#February".into()]));
/// assert!(!q.matches("Births: weights", &["#birth-records".into(), "#February".into()]));
/// assert!(!q.matches("weight", &["#february".into(), "#birth-records".into()]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchQuery {
    /// Tags that must all be present.
    pub tags: Vec<String>,
    /// Words that must all occur in the description, if given.
    pub text: Option<String>,
}

impl SearchQuery {
    /// A query for objects carrying all of `tags`.
    pub fn tags<I, S>(tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            tags: tags.into_iter().map(Into::into).collect(),
            text: None,
        }
    }

    /// The same query, also requiring the words of `text` in the description.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Whether an object with this description and these tags matches.
    pub fn matches(&self, description: &str, tags: &[String]) -> bool {
        self.tags.iter().all(|wanted| tags.contains(wanted))
            && self.text.as_deref().is_none_or(|text| {
                let have: Vec<String> = words(description).collect();
                words(text).all(|w| have.contains(&w))
            })
    }
}

/// The lowercase words of a text: maximal runs of alphanumeric characters.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_are_case_insensitive_and_whole() {
        let q = SearchQuery::default().with_text("FEBRUARY Births");
        assert!(q.matches("february births: weight", &[]));
        assert!(!q.matches("february birth", &[]));
        assert!(
            SearchQuery::default()
                .with_text("")
                .matches("anything", &[])
        );
        assert!(
            SearchQuery::default()
                .with_text("kg")
                .matches("weight (kg)", &[])
        );
    }

    #[test]
    fn all_tags_must_match_exactly() {
        let have = tags(&["#a", "#b"]);
        assert!(SearchQuery::tags(["#a"]).matches("", &have));
        assert!(SearchQuery::tags(["#b", "#a"]).matches("", &have));
        assert!(!SearchQuery::tags(["#a", "#c"]).matches("", &have));
        assert!(!SearchQuery::tags(["#A"]).matches("", &have));
        assert!(!SearchQuery::tags(["#"]).matches("", &have));
        assert!(SearchQuery::default().matches("", &[]));
    }
}
