package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// deflate (-deflate) offers permessage-deflate; wireRead counts the bytes every peer read
// off its socket.
var (
	deflate  bool
	wireRead atomic.Int64
)

// countingConn counts what it reads in wireRead.
type countingConn struct{ net.Conn }

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	wireRead.Add(int64(n))
	return n, err
}

// peer is a lean WAMP peer: one connection (WebSocket or RawSocket) and a codec, no
// goroutines of its own, so that the load tool spends its CPU on load and not on client
// machinery. It works against any router.
type peer struct {
	ws    wire
	codec wamp.Codec
	id    wamp.ID
	buf   []byte
	req   wamp.ID
}

// wire carries whole WAMP messages: a WebSocket, or a RawSocket (rawsocket.go).
type wire interface {
	WriteMessage(data []byte) error
	ReadMessage() ([]byte, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// wsWire is a WebSocket carrying one kind of frame.
type wsWire struct {
	c    *gorilla.Conn
	kind int
}

func (w wsWire) WriteMessage(data []byte) error { return w.c.WriteMessage(w.kind, data) }

func (w wsWire) ReadMessage() ([]byte, error) {
	_, data, err := w.c.ReadMessage()
	return data, err
}

func (w wsWire) SetReadDeadline(t time.Time) error { return w.c.SetReadDeadline(t) }
func (w wsWire) Close() error                      { return w.c.Close() }

var roles = wamp.Dict{
	"publisher": wamp.Dict{"features": wamp.Dict{}}, "subscriber": wamp.Dict{"features": wamp.Dict{}},
	"caller": wamp.Dict{"features": wamp.Dict{}}, "callee": wamp.Dict{"features": wamp.Dict{}},
}

// dialPeer connects from localIP (empty: any) and joins realm.
func dialPeer(ctx context.Context, url string, realm wamp.URI, codec wamp.Codec, localIP string) (*peer, error) {
	nd := &net.Dialer{Timeout: 30 * time.Second}
	if localIP != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	var ws wire
	if strings.HasPrefix(url, "rs://") || strings.HasPrefix(url, "tcp://") {
		rw, err := dialRawSocket(ctx, nd, url, codec)
		if err != nil {
			return nil, err
		}
		ws = rw
	} else {
		d := gorilla.Dialer{Subprotocols: websocket.SubprotocolsFor(codec.Name()), HandshakeTimeout: 30 * time.Second,
			ReadBufferSize: 1024, WriteBufferSize: 1024, EnableCompression: deflate,
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := nd.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{c}, nil
			}}
		c, _, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		kind := gorilla.TextMessage
		if codec.Binary() {
			kind = gorilla.BinaryMessage
		}
		ws = wsWire{c: c, kind: kind}
	}
	p := &peer{ws: ws, codec: codec}
	if err := p.send(&wamp.Hello{Realm: realm, Details: wamp.Dict{"roles": roles}}); err != nil {
		ws.Close()
		return nil, err
	}
	m, err := p.recv()
	if err != nil {
		ws.Close()
		return nil, err
	}
	w, ok := m.(*wamp.Welcome)
	if !ok {
		ws.Close()
		return nil, fmt.Errorf("join: got %s", m.Type())
	}
	p.id = w.Session
	return p, nil
}

func (p *peer) send(m wamp.Message) error {
	var err error
	p.buf, err = p.codec.Encode(p.buf[:0], m)
	if err != nil {
		return err
	}
	return p.ws.WriteMessage(p.buf)
}

func (p *peer) recv() (wamp.Message, error) {
	data, err := p.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return p.codec.Decode(data)
}

func (p *peer) nextReq() wamp.ID {
	p.req++
	return p.req
}

// expect reads until a message of type t arrives (skipping others, e.g. events in flight).
func (p *peer) expect(t wamp.MessageType) (wamp.Message, error) {
	for {
		m, err := p.recv()
		if err != nil {
			return nil, err
		}
		if e, ok := m.(*wamp.Error); ok {
			return nil, fmt.Errorf("%s", e.Error)
		}
		if m.Type() == t {
			return m, nil
		}
	}
}

func (p *peer) subscribe(topic wamp.URI) error {
	if err := p.send(&wamp.Subscribe{Request: p.nextReq(), Options: wamp.Dict{}, Topic: topic}); err != nil {
		return err
	}
	_, err := p.expect(wamp.TypeSubscribed)
	return err
}

func (p *peer) register(procedure wamp.URI, options wamp.Dict) error {
	if err := p.send(&wamp.Register{Request: p.nextReq(), Options: options, Procedure: procedure}); err != nil {
		return err
	}
	_, err := p.expect(wamp.TypeRegistered)
	return err
}

func (p *peer) close() {
	p.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal})
	p.ws.SetReadDeadline(time.Now().Add(time.Second))
	p.expect(wamp.TypeGoodbye)
	p.ws.Close()
}
