package clustered

import (
	"context"
	"fmt"
	"net"

	"github.com/nats-io/nats.go"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// Kinds of messages between the dealers of one realm on different nodes.
const (
	kindCall    = "call"    // a CALL (or a later chunk) of a caller on the sending node
	kindCancel  = "cancel"  // a CANCEL of such a caller
	kindLeft    = "left"    // that caller left: its stand-in goes
	kindReply   = "reply"   // a RESULT or ERROR for a caller on the receiving node
	kindPing    = "ping"    // answered once everything sent before it is handled (Settle)
	kindUnknown = "unknown" // a reply to a call from a caller the node holds no stand-in for
)

// envelope is one message between nodes: what it is, the caller's session and node, the
// caller's identity (with a call: its stand-in is made from it), and the WAMP message,
// MessagePack-encoded.
type envelope struct {
	kind    string
	session wamp.ID
	node    string
	info    wamp.Dict
	frame   []byte
}

func (e envelope) encode() ([]byte, error) {
	var info any
	if e.info != nil {
		info = e.info
	}
	frame := any(nil)
	if e.frame != nil {
		frame = e.frame
	}
	return wamp.MsgPack.(wamp.ValueEncoder).EncodeValue(nil, wamp.List{e.kind, uint64(e.session), e.node, info, frame})
}

func decodeEnvelope(data []byte) (envelope, error) {
	v, err := wamp.DecodeMsgPackValue(data)
	if err != nil {
		return envelope{}, err
	}
	l, ok := v.(wamp.List)
	if !ok || len(l) != 5 {
		return envelope{}, fmt.Errorf("not an envelope: %T", v)
	}
	var e envelope
	e.kind, _ = l[0].(string)
	e.session, _ = wamp.AsID(l[1])
	e.node, _ = l[2].(string)
	e.info, _ = l[3].(wamp.Dict)
	e.frame, _ = l[4].([]byte)
	return e, nil
}

// send publishes an envelope to a node's dealer of this realm. Core NATS: no wait, no
// acknowledgement; a node that does not get it is a node that is going down, and NodeDown
// settles what it held.
func (d *Dealer) send(node string, e envelope) bool {
	data, err := e.encode()
	if err != nil {
		d.log.Error("clustered dealer: encode", "kind", e.kind, "err", err)
		return false
	}
	if err := d.node.Conn().Publish(d.inbox(node), data); err != nil {
		d.log.Warn("clustered dealer: publish to node failed", "node", node, "kind", e.kind, "err", err)
		return false
	}
	return true
}

// forward sends a caller's CALL or CANCEL to the node serving it; withInfo adds who the
// caller is (with the first CALL of a call: the stand-in is made from it if needed).
func (d *Dealer) forward(node, kind string, s *session.Session, m wamp.Message, withInfo bool) {
	frame, err := d.codec.Encode(nil, m)
	if err != nil {
		d.log.Error("clustered dealer: encode", "type", m.Type(), "err", err)
		return
	}
	e := envelope{kind: kind, session: s.ID, node: d.self, frame: frame}
	if withInfo {
		e.info = wamp.Dict{"authid": s.AuthID, "authrole": s.AuthRole, "details": s.Details, "roles": s.Roles()}
	}
	if !d.send(node, e) && kind == kindCall {
		if call, ok := m.(*wamp.Call); ok {
			d.settle(s.ID, call.Request)
			s.SendError(wamp.TypeCall, call.Request, wamp.ErrUnavailable, "the callee's node cannot be reached")
		}
	}
}

// settle forgets a call of a caller on this node that has its final answer.
func (d *Dealer) settle(session, req wamp.ID) {
	if v, ok := d.callers.Load(session); ok {
		c := v.(*caller)
		c.mu.Lock()
		delete(c.calls, req)
		c.mu.Unlock()
	}
}

// receive handles a message from another node's dealer of this realm, on the subscription's
// goroutine: one at a time, in the order each node sent them.
func (d *Dealer) receive(msg *nats.Msg) {
	e, err := decodeEnvelope(msg.Data)
	if err != nil {
		d.log.Warn("clustered dealer: bad message from another node", "err", err)
		return
	}
	switch e.kind {
	case kindReply:
		d.reply(e)
	case kindUnknown:
		if v, ok := d.callers.Load(e.session); ok {
			c := v.(*caller)
			c.mu.Lock()
			delete(c.nodes, e.node)
			c.mu.Unlock()
		}
		d.reply(e)
	case kindCall:
		m, err := d.codec.Decode(e.frame)
		call, ok := m.(*wamp.Call)
		if err != nil || !ok {
			d.log.Warn("clustered dealer: bad call from another node", "node", e.node, "err", err)
			return
		}
		proxy := d.proxy(e)
		if proxy == nil {
			// A stand-in dropped meanwhile (this node took the caller's node for down):
			// the call fails, and the caller's node introduces the caller again next time.
			frame, err := d.codec.Encode(nil, &wamp.Error{RequestType: wamp.TypeCall, Request: call.Request,
				Details: wamp.Dict{}, Error: wamp.ErrUnavailable, Payload: wamp.WithArgs("the callee's node lost track of this caller; call again")})
			if err == nil {
				d.send(e.node, envelope{kind: kindUnknown, session: e.session, node: d.self, frame: frame})
			}
			return
		}
		d.local.Call(proxy, call)
	case kindCancel:
		m, err := d.codec.Decode(e.frame)
		cancel, ok := m.(*wamp.Cancel)
		if err != nil || !ok {
			return
		}
		if v, ok := d.proxies.Load(proxyKey{e.node, e.session}); ok {
			d.local.Cancel(v.(*session.Session), cancel)
		}
	case kindPing:
		msg.Respond(nil)
	case kindLeft:
		if v, ok := d.proxies.LoadAndDelete(proxyKey{e.node, e.session}); ok {
			d.local.Leave(v.(*session.Session))
		}
	}
}

// reply passes a RESULT or ERROR from another node to the caller here.
func (d *Dealer) reply(e envelope) {
	v, ok := d.callers.Load(e.session)
	if !ok {
		return // the caller left
	}
	c := v.(*caller)
	m, err := d.codec.Decode(e.frame)
	if err != nil {
		d.log.Warn("clustered dealer: bad reply from another node", "node", e.node, "err", err)
		return
	}
	var req wamp.ID
	final := true
	switch r := m.(type) {
	case *wamp.Result:
		req = r.Request
		if more, _ := r.Details.Bool("progress"); more {
			final = false
		}
	case *wamp.Error:
		req = r.Request
	default:
		return
	}
	if final {
		d.settle(e.session, req)
	}
	c.s.Send(m)
}

// proxy returns the stand-in of another node's caller, making it from the envelope's info on
// its first call.
func (d *Dealer) proxy(e envelope) *session.Session {
	key := proxyKey{e.node, e.session}
	if v, ok := d.proxies.Load(key); ok {
		return v.(*session.Session)
	}
	if e.info == nil {
		return nil
	}
	authid, _ := e.info.String("authid")
	authrole, _ := e.info.String("authrole")
	details, _ := e.info.Dict("details")
	roles, _ := e.info.Dict("roles")
	s := session.NewRemote(session.Remote{ID: e.session, Realm: d.realm, AuthID: authid, AuthRole: authrole,
		Details: details, Roles: roles}, d.codec, &relayPeer{d: d, node: e.node, session: e.session}, d.log)
	v, _ := d.proxies.LoadOrStore(key, s)
	return v.(*session.Session)
}

// relayPeer is the connection of a stand-in: what the in-process dealer sends the stand-in
// (RESULT, ERROR) goes back to the caller's node.
type relayPeer struct {
	d       *Dealer
	node    string
	session wamp.ID
}

func (p *relayPeer) Serializer() string { return "msgpack" }

func (p *relayPeer) Read() ([]byte, error) { return nil, peer.ErrClosed }

func (p *relayPeer) SendNow(frame []byte) error {
	if !p.d.send(p.node, envelope{kind: kindReply, session: p.session, node: p.d.self, frame: frame}) {
		return peer.ErrClosed
	}
	return nil
}

func (p *relayPeer) SendFanout(frame []byte, _ peer.Peer) error { return p.SendNow(frame) }

func (p *relayPeer) Queued() (int, int) { return 0, 0 }

func (p *relayPeer) Close(int, string) {}

func (p *relayPeer) Abort(int, string) {}

func (p *relayPeer) Details() peer.Details {
	return peer.Details{Transport: "cluster", RemoteAddr: nodeAddr(p.node)}
}

// nodeAddr is the address of a stand-in: the node its session is on.
type nodeAddr string

func (a nodeAddr) Network() string { return "cluster" }
func (a nodeAddr) String() string  { return string(a) }

var _ net.Addr = nodeAddr("")

// Settle waits until another node's dealer of this realm has handled everything this node
// sent it so far (messages between two nodes arrive in order): for tests, and for an
// orderly hand-over.
func (d *Dealer) Settle(ctx context.Context, node string) error {
	data, err := envelope{kind: kindPing, node: d.self}.encode()
	if err != nil {
		return err
	}
	if _, err := d.node.Conn().RequestWithContext(ctx, d.inbox(node), data); err != nil {
		return fmt.Errorf("settle with node %s: %w", node, err)
	}
	return nil
}
