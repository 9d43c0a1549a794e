module github.com/pawl-wamp/pawl

go 1.26.8

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
