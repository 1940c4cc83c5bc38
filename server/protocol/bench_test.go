package protocol

import "testing"

var benchMessage = MessageFrame{Type: TypeMessage, Message: Message{
	ID: "m_01hqzx4f7w9k2m3n4p5q", Room: "r_uybr6e57yu6ga2kr5s2e", Seq: 123456, Kind: KindChat,
	Sender: &User{ID: "u_tilamrayd2ik7v23cexv", Name: "alice", Role: RoleMember},
	Text:   "Shall we move the standup to 10:30 tomorrow? The design review runs long.",
	TS:     "2026-11-26T08:35:16.392Z", ClientID: "c-8f1e2d",
}}

func BenchmarkEncodeMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(benchMessage)
	}
}

func BenchmarkDecodeSend(b *testing.B) {
	raw := []byte(`{"type":"send","room":"r_uybr6e57yu6ga2kr5s2e","text":"Shall we move the standup to 10:30 tomorrow?","client_id":"c-8f1e2d","ref":"42"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeClient(raw); err != nil {
			b.Fatal(err)
		}
	}
}
