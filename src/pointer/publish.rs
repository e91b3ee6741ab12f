//! The builder a data owner publishes a dataset with.

use super::client::unexpected;
use super::pointer::Pointer;
use super::session::Session;
use crate::error::Result;
use crate::protocol::*;
use crate::tensor::Tensor;
use std::collections::BTreeSet;

/// A dataset about to be published; see [`Session::publish`].
///
/// Without [`allow`](Publish::allow) or [`public`](Publish::public), only the node's owners may
/// read the raw values.
#[must_use = "nothing is published until `send` is awaited"]
pub struct Publish<'a> {
    session: &'a Session,
    tensor: Tensor,
    description: String,
    tags: Vec<String>,
    policy: AccessPolicy,
    bounds: Option<(f32, f32)>,
}

impl<'a> Publish<'a> {
    pub(crate) fn new(session: &'a Session, tensor: Tensor) -> Self {
        Self {
            session,
            tensor,
            description: String::new(),
            tags: Vec::new(),
            policy: AccessPolicy::Private {
                allowed: BTreeSet::new(),
            },
            bounds: None,
        }
    }

    /// What the data is, for people searching the grid.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Tags to find the dataset by.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Users who may read the raw values (owners always may).
    pub fn allow<I, S>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut allowed = match self.policy {
            AccessPolicy::Private { allowed } => allowed,
            AccessPolicy::Public => BTreeSet::new(),
        };
        allowed.extend(users.into_iter().map(Into::into));
        self.policy = AccessPolicy::Private { allowed };
        self
    }

    /// Lets every logged-in user read the raw values.
    pub fn public(mut self) -> Self {
        self.policy = AccessPolicy::Public;
        self
    }

    /// Public bounds on every value, used to calibrate differentially private releases.
    pub fn bounds(mut self, low: f32, high: f32) -> Self {
        self.bounds = Some((low, high));
        self
    }

    /// Publishes; the pointer carries the description, tags and shape. Dropping it does not
    /// delete the dataset.
    pub async fn send(self) -> Result<Pointer> {
        let id = self.session.inner.allocate_id();
        let summary = ObjectSummary {
            id,
            description: self.description.clone(),
            tags: self.tags.clone(),
            shape: self.tensor.shape().to_vec(),
        };
        let request = Request::Publish(Box::new(PublishRequest {
            id,
            tensor: self.tensor,
            description: self.description,
            tags: self.tags,
            policy: self.policy,
            bounds: self.bounds,
        }));
        match self.session.call(request).await? {
            Response::Stored => Ok(Pointer::found(self.session.clone(), summary)),
            other => Err(unexpected(other)),
        }
    }
}
