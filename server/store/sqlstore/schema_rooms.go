package sqlstore

// schemaRooms is step 9: what people may change of a room. topic is ""
// when there is none; archived rooms are read-only and out of the
// directory; created_by is the user who created the room, NULL for
// direct-message rooms and for rooms made before this step (only admins
// may rename or archive those). Accounts are never deleted, so created_by
// needs no foreign key.
const schemaRooms = `
ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN archived {{bool}} NOT NULL DEFAULT {{false}};
ALTER TABLE rooms ADD COLUMN created_by TEXT;
`

// schemaMemberCount is step 13: each room's member count, kept by AddMember
// and RemoveMember in the transaction that changes the membership. Every
// welcome lists its rooms with their sizes: counting a room's members there
// cost a thousand index entries per connection for a team's general, the
// largest share of a connect storm's reads.
const schemaMemberCount = `
ALTER TABLE rooms ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET member_count = (SELECT COUNT(*) FROM members m WHERE m.room_id = rooms.id);
`
