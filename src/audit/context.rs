//! Who is acting in the current request, from where, under which request id: set by the HTTP
//! layer around each request (a task-local), read when an event is recorded.

use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use crate::vocabulary::AppUserId;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A backend signing with an access key (its slot).
    AccessKey(&'static str),
    /// A backend with a bearer token of the organisation's identity provider.
    Client(String),
    /// A caller of the routes anyone may call (app users, guests): the event names the user.
    Public,
    /// The operator, from the command line (or anything outside a request).
    Operator,
}

impl Actor {
    /// As stored: `accessKey:primary`, `client:<id>`, `public`, `operator`.
    pub fn label(&self) -> Cow<'static, str> {
        match self {
            Actor::AccessKey("primary") => Cow::Borrowed("accessKey:primary"),
            Actor::AccessKey("secondary") => Cow::Borrowed("accessKey:secondary"),
            Actor::AccessKey(slot) => Cow::Owned(format!("accessKey:{slot}")),
            Actor::Client(client) => Cow::Owned(format!("client:{client}")),
            Actor::Public => Cow::Borrowed("public"),
            Actor::Operator => Cow::Borrowed("operator"),
        }
    }
}

/// The current request's actor, client address, and the ids the server and the client gave it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub actor: Actor,
    pub client_address: Option<IpAddr>,
    pub request_id: Option<Arc<str>>,
    pub client_request_id: Option<Arc<str>>,
    /// The client's `User-Agent`, as given (bounded, printable); shown to a user among its
    /// sessions, never recorded in the audit trail.
    pub user_agent: Option<Arc<str>>,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

impl RequestContext {
    /// Outside any request: the operator.
    fn operator() -> Self {
        RequestContext {
            actor: Actor::Operator,
            client_address: None,
            request_id: None,
            client_request_id: None,
            user_agent: None,
        }
    }

    /// The context `work` runs in.
    pub fn current() -> Self {
        CURRENT
            .try_with(Clone::clone)
            .unwrap_or_else(|_| Self::operator())
    }

    /// Runs `work` in this context.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }

    /// This context with another actor (once a request has authenticated).
    pub fn acting_as(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }
}

tokio::task_local! {
    static ON_BEHALF_OF: AppUserId;
}

impl RequestContext {
    /// Runs `work` on behalf of an app user: every event it records names that user unless it
    /// names one itself, so the rows an app user's requests cause (a token for an identity it
    /// shares with others) are found, and scrubbed, with that user.
    pub async fn on_behalf_of<F: Future>(user: AppUserId, work: F) -> F::Output {
        ON_BEHALF_OF.scope(user, work).await
    }

    /// The app user the current work is done for, if any.
    pub fn acting_for() -> Option<AppUserId> {
        ON_BEHALF_OF.try_with(|user| *user).ok()
    }
}
