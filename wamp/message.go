package wamp

// MessageType is the integer code that starts every WAMP message.
type MessageType uint16

// The message codes of WAMP v2.
const (
	TypeHello         MessageType = 1
	TypeWelcome       MessageType = 2
	TypeAbort         MessageType = 3
	TypeChallenge     MessageType = 4
	TypeAuthenticate  MessageType = 5
	TypeGoodbye       MessageType = 6
	TypeError         MessageType = 8
	TypePublish       MessageType = 16
	TypePublished     MessageType = 17
	TypeSubscribe     MessageType = 32
	TypeSubscribed    MessageType = 33
	TypeUnsubscribe   MessageType = 34
	TypeUnsubscribed  MessageType = 35
	TypeEvent         MessageType = 36
	TypeCall          MessageType = 48
	TypeCancel        MessageType = 49
	TypeResult        MessageType = 50
	TypeRegister      MessageType = 64
	TypeRegistered    MessageType = 65
	TypeUnregister    MessageType = 66
	TypeUnregistered  MessageType = 67
	TypeInvocation    MessageType = 68
	TypeInterrupt     MessageType = 69
	TypeYield         MessageType = 70
	TypeEventReceived MessageType = 337
)

var typeNames = map[MessageType]string{
	TypeHello: "HELLO", TypeWelcome: "WELCOME", TypeAbort: "ABORT", TypeChallenge: "CHALLENGE",
	TypeAuthenticate: "AUTHENTICATE", TypeGoodbye: "GOODBYE", TypeError: "ERROR",
	TypePublish: "PUBLISH", TypePublished: "PUBLISHED", TypeSubscribe: "SUBSCRIBE",
	TypeSubscribed: "SUBSCRIBED", TypeUnsubscribe: "UNSUBSCRIBE", TypeUnsubscribed: "UNSUBSCRIBED",
	TypeEvent: "EVENT", TypeCall: "CALL", TypeCancel: "CANCEL", TypeResult: "RESULT",
	TypeRegister: "REGISTER", TypeRegistered: "REGISTERED", TypeUnregister: "UNREGISTER",
	TypeUnregistered: "UNREGISTERED", TypeInvocation: "INVOCATION", TypeInterrupt: "INTERRUPT",
	TypeYield: "YIELD", TypeEventReceived: "EVENT_RECEIVED",
}

func (t MessageType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "UNKNOWN"
}

// Message is any WAMP message.
type Message interface {
	Type() MessageType
}

// Hello: [HELLO, Realm|uri, Details|dict]
type Hello struct {
	Realm   URI
	Details Dict
}

// Welcome: [WELCOME, Session|id, Details|dict]
type Welcome struct {
	Session ID
	Details Dict
}

// Abort: [ABORT, Details|dict, Reason|uri]
type Abort struct {
	Details Dict
	Reason  URI
}

// Challenge: [CHALLENGE, AuthMethod|string, Extra|dict]
type Challenge struct {
	AuthMethod string
	Extra      Dict
}

// Authenticate: [AUTHENTICATE, Signature|string, Extra|dict]
type Authenticate struct {
	Signature string
	Extra     Dict
}

// Goodbye: [GOODBYE, Details|dict, Reason|uri]
type Goodbye struct {
	Details Dict
	Reason  URI
}

// Error: [ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list, ArgumentsKw|dict]
type Error struct {
	RequestType MessageType
	Request     ID
	Details     Dict
	Error       URI
	Payload
}

// Publish: [PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict]
type Publish struct {
	Request ID
	Options Dict
	Topic   URI
	Payload
}

// Published: [PUBLISHED, PUBLISH.Request|id, Publication|id]
type Published struct {
	Request     ID
	Publication ID
}

// Subscribe: [SUBSCRIBE, Request|id, Options|dict, Topic|uri]
type Subscribe struct {
	Request ID
	Options Dict
	Topic   URI
}

// Subscribed: [SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]
type Subscribed struct {
	Request      ID
	Subscription ID
}

// Unsubscribe: [UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]
type Unsubscribe struct {
	Request      ID
	Subscription ID
}

// Unsubscribed: [UNSUBSCRIBED, UNSUBSCRIBE.Request|id] or, from the router on its own
// initiative, [UNSUBSCRIBED, 0, Details|dict].
type Unsubscribed struct {
	Request ID
	Details Dict
}

// Event: [EVENT, Subscription|id, Publication|id, Details|dict, Arguments|list, ArgumentsKw|dict]
type Event struct {
	Subscription ID
	Publication  ID
	Details      Dict
	Payload
}

// EventReceived: [EVENT_RECEIVED, EVENT.Publication|id, Details|dict, Payload...]
// (acknowledged event delivery; decoded so that a peer sending it gets a clear answer).
type EventReceived struct {
	Publication ID
	Details     Dict
	Payload
}

// Call: [CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict]
type Call struct {
	Request   ID
	Options   Dict
	Procedure URI
	Payload
}

// Cancel: [CANCEL, CALL.Request|id, Options|dict]
type Cancel struct {
	Request ID
	Options Dict
}

// Result: [RESULT, CALL.Request|id, Details|dict, Arguments|list, ArgumentsKw|dict]
type Result struct {
	Request ID
	Details Dict
	Payload
}

// Register: [REGISTER, Request|id, Options|dict, Procedure|uri]
type Register struct {
	Request   ID
	Options   Dict
	Procedure URI
}

// Registered: [REGISTERED, REGISTER.Request|id, Registration|id]
type Registered struct {
	Request      ID
	Registration ID
}

// Unregister: [UNREGISTER, Request|id, REGISTERED.Registration|id]
type Unregister struct {
	Request      ID
	Registration ID
}

// Unregistered: [UNREGISTERED, UNREGISTER.Request|id] or, from the router on its own
// initiative, [UNREGISTERED, 0, Details|dict].
type Unregistered struct {
	Request ID
	Details Dict
}

// Invocation: [INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, Arguments|list, ArgumentsKw|dict]
type Invocation struct {
	Request      ID
	Registration ID
	Details      Dict
	Payload
}

// Interrupt: [INTERRUPT, INVOCATION.Request|id, Options|dict]
type Interrupt struct {
	Request ID
	Options Dict
}

// Yield: [YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict]
type Yield struct {
	Request ID
	Options Dict
	Payload
}

func (*Hello) Type() MessageType         { return TypeHello }
func (*Welcome) Type() MessageType       { return TypeWelcome }
func (*Abort) Type() MessageType         { return TypeAbort }
func (*Challenge) Type() MessageType     { return TypeChallenge }
func (*Authenticate) Type() MessageType  { return TypeAuthenticate }
func (*Goodbye) Type() MessageType       { return TypeGoodbye }
func (*Error) Type() MessageType         { return TypeError }
func (*Publish) Type() MessageType       { return TypePublish }
func (*Published) Type() MessageType     { return TypePublished }
func (*Subscribe) Type() MessageType     { return TypeSubscribe }
func (*Subscribed) Type() MessageType    { return TypeSubscribed }
func (*Unsubscribe) Type() MessageType   { return TypeUnsubscribe }
func (*Unsubscribed) Type() MessageType  { return TypeUnsubscribed }
func (*Event) Type() MessageType         { return TypeEvent }
func (*EventReceived) Type() MessageType { return TypeEventReceived }
func (*Call) Type() MessageType          { return TypeCall }
func (*Cancel) Type() MessageType        { return TypeCancel }
func (*Result) Type() MessageType        { return TypeResult }
func (*Register) Type() MessageType      { return TypeRegister }
func (*Registered) Type() MessageType    { return TypeRegistered }
func (*Unregister) Type() MessageType    { return TypeUnregister }
func (*Unregistered) Type() MessageType  { return TypeUnregistered }
func (*Invocation) Type() MessageType    { return TypeInvocation }
func (*Interrupt) Type() MessageType     { return TypeInterrupt }
func (*Yield) Type() MessageType         { return TypeYield }
