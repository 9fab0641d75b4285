package nats

import (
	"crypto/sha256"
	"encoding/base64"
)

// subjects are the NATS subjects of a cluster (see doc.go). Every one
// starts with the cluster's prefix P; a family of its own per kind of
// addressee (client, room, node, every node).
type subjects struct {
	prefix  string
	nodes   string // P.nodes: heartbeats and goodbyes, every node
	emit    string // P.emit: events, every node
	replies string // P.reply.<inst>: this node's replies, one token each
	held    string // P.held.<inst>: answers to this node's claims
}

func newSubjects(prefix, inst string) subjects {
	return subjects{
		prefix:  prefix,
		nodes:   prefix + ".nodes",
		emit:    prefix + ".emit",
		replies: prefix + ".reply." + inst,
		held:    prefix + ".held." + inst,
	}
}

// client is the subject of client id: the node that has the client
// subscribes to it.
func (s subjects) client(id string) string { return s.prefix + ".client." + idToken(id) }

// room is the subject of a room's events: the nodes with members of the
// room subscribe to it. Room names are encoded as client ids are.
func (s subjects) room(name string) string { return s.prefix + ".room." + idToken(name) }

// roomStored is the subject a room with history publishes on, which the
// rooms' stream stores; roomLive the one the stream republishes each
// stored event on, with its sequence, and the nodes with members of the
// room subscribe to. roomsStored and roomsLive are their families'
// common start, which the stream's subjects and republishing match.
func (s subjects) roomStored(name string) string { return s.roomsStored() + idToken(name) }
func (s subjects) roomLive(name string) string   { return s.roomsLive() + idToken(name) }
func (s subjects) roomsStored() string           { return s.prefix + ".hroom." }
func (s subjects) roomsLive() string             { return s.prefix + ".hlive." }

// node is the subject of one of node name's services.
func (s subjects) node(name, what string) string { return s.prefix + ".node." + name + "." + what }

// name is the subject where nodes claim name and answer its claims.
func (s subjects) name(name string) string { return s.prefix + ".name." + name }

// maxPlainID is the longest id whose token is its base64url encoding;
// longer ids are named by their SHA-256, so that a subject stays short.
const maxPlainID = 96

// idToken encodes a client id as one NATS subject token: any byte of an
// id ('.', '*', '>', spaces, invalid UTF-8) becomes base64url, which has
// none of them. "b" prefixes an encoded id, "h" the hash of a long one;
// a call still checks the id itself, so two ids never share a client.
func idToken(id string) string {
	if len(id) <= maxPlainID {
		return "b" + base64.RawURLEncoding.EncodeToString([]byte(id))
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + base64.RawURLEncoding.EncodeToString(sum[:])
}
