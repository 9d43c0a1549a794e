// Package memory is an in-process transport: the two ends of a connection joined by two
// bounded queues, with no socket, no HTTP and no framing. The router's end is a peer.Peer
// (session.Host.ServePeer serves it), the client's end a peer.Client (client.Join joins
// over it); Router.LocalClient is built on it.
//
// It keeps the WebSocket connection's rules: sending never blocks the router (a full queue
// returns peer.ErrQueueFull, and the session layer cuts that peer off), the client waits for
// room instead (SendWait), what was sent before a Close is still read, and Abort drops it.
// Frames cross by reference, never copied: a frame shared by many recipients is read, never
// changed.
package memory
