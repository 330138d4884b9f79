//! In-process single-flight: at most one running task per key, shared by every caller
//! that asks while it runs. The task runs on its own (spawned), so a caller that gives
//! up does not cancel the work for the others. A finished flight removes itself, so
//! memory never grows with the number of distinct keys. [`Flights::abort_all`] stops
//! them when the host shuts down (their waiters get [`StoreError::Aborted`]).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::error::{Result, StoreError};

type Flight<V> = Shared<BoxFuture<'static, Result<V>>>;

pub struct Flights<K, V: Clone> {
    running: Arc<Running<K, V>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl<K, V: Clone> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            running: Arc::default(),
            next_id: Default::default(),
        }
    }
}

impl<K, V> Flights<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Joins the flight for `key`, starting it with `work` if none is running.
    /// Returns the shared result and whether this call started the flight.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> (Result<V>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>> + Send + 'static,
    {
        let (flight, leader) = {
            let mut running = self.running.lock().expect("flights lock");
            match running.get(&key) {
                Some((_, flight, _)) => (flight.clone(), false),
                None => {
                    let id = self
                        .next_id
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let map = Arc::clone(&self.running);
                    let done_key = key.clone();
                    let work = work();
                    let task = tokio::spawn(async move {
                        let result = work.await;
                        // Remove before anyone sees the result, so a later caller starts
                        // afresh (and finds the cache filled). Done inside the task so it
                        // happens even if every waiter has gone away.
                        finish(&map, &done_key, id);
                        result
                    });
                    let abort = task.abort_handle();
                    let (map, done_key) = (Arc::clone(&self.running), key.clone());
                    let flight = async move {
                        task.await.unwrap_or_else(|e| {
                            // The task panicked or was aborted before removing itself.
                            finish(&map, &done_key, id);
                            Err(StoreError::Aborted(e.to_string()))
                        })
                    }
                    .boxed()
                    .shared();
                    running.insert(key, (id, flight.clone(), abort));
                    (flight, true)
                }
            }
        };
        (flight.await, leader)
    }

    /// Stops every running flight; their waiters get an error. Later calls start anew.
    pub fn abort_all(&self) {
        let running: Vec<_> = self.running.lock().expect("flights lock").drain().collect();
        for (_, (_, _, abort)) in running {
            abort.abort();
        }
    }

    /// Flights currently running.
    pub fn len(&self) -> usize {
        self.running.lock().expect("flights lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Running<K, V> = Mutex<HashMap<K, (u64, Flight<V>, tokio::task::AbortHandle)>>;

fn finish<K: Eq + Hash, V: Clone>(map: &Running<K, V>, key: &K, id: u64) {
    let mut map = map.lock().expect("flights lock");
    if map.get(key).is_some_and(|(i, _, _)| *i == id) {
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn aborted_flights_answer_their_waiters_and_leave_nothing() {
        let flights: Arc<Flights<&str, u32>> = Arc::default();
        let (started, mut running) = tokio::sync::watch::channel(false);
        let waiter = tokio::spawn({
            let flights = Arc::clone(&flights);
            async move {
                let work = move || async move {
                    started.send_replace(true);
                    std::future::pending::<Result<u32>>().await
                };
                flights.run("key", work).await.0
            }
        });
        running.wait_for(|started| *started).await.unwrap();
        assert_eq!(flights.len(), 1);
        flights.abort_all();
        let result = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the waiter was answered")
            .unwrap();
        assert!(matches!(result, Err(StoreError::Aborted(_))), "{result:?}");
        assert!(flights.is_empty());
        // A later call starts anew.
        let again = flights.run("key", || async { Ok(7) }).await;
        assert_eq!(again.0.unwrap(), 7);
    }
}
