// Package wsapp serves plain WebSocket applications, as Ratchet does in PHP: an App is an
// http.Handler that serves Components on routes, next to any other handler on one
// http.ServeMux (the WAMP router's WebSocketHandler, static files), so they share a port.
//
//	app := wsapp.NewApp(logger)
//	app.Route("/chat", chat, wsapp.RouteOptions{AllowedOrigins: []string{"*"}})
//	app.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{})) // WAMP, same port
//
// A Component gets OnOpen, OnMessage per message and OnClose once per connection (a Peer),
// and OnError for a failed callback; a panic closes only that connection. Group broadcasts
// to a set of peers; Echo is the ready echo component. Each connection runs on the WebSocket
// engine (transport/websocket), with its bounded queue: a peer too slow to read is cut off,
// nothing waits on it. RouteOptions.Deflate turns on permessage-deflate, as on a WAMP
// listener; a Group broadcast is then compressed once for every peer. No WAMP knowledge
// lives here.
package wsapp
