import Foundation
@testable import Gateway
import Messages
import Testing

@Suite("Recovery parts (no I/O)")
struct RecoveryPartsTests {
    @Test("a delivery position prints and parses exactly, and refuses anything else")
    func position() {
        var position = DeliveryPosition(partitions: 3)
        position.advance(partition: 1, past: 41)
        position.advance(partition: 1, past: 7)  // never moves back
        position.advance(partition: 9, past: 1)  // no such partition: ignored
        #expect(position.description == "0-42-0")
        #expect(DeliveryPosition(parsing: "0-42-0", partitions: 3) == position)
        for bad in ["", "0-42", "0-42-0-1", "0--0", "0-+4-0", "0-4x-0", "-1-0-0", "0-99999999999999999999-0"] {
            #expect(DeliveryPosition(parsing: bad, partitions: 3) == nil, "\(bad)")
        }
        #expect(DeliveryPosition(next: [5, 10, 0]).distance(to: DeliveryPosition(next: [7, 10, 3])) == 5)
        #expect(DeliveryPosition(next: [7, 10, 3]).distance(to: DeliveryPosition(next: [5, 10, 0])) == 0)
    }

    @Test("a recovery id opens only under its key and unchanged")
    func token() throws {
        let key = RecoveryToken.key(secret: "recovery-secret-0123456789abcdefghijkl")
        let token = RecoveryToken(socketId: "s1", userId: "alice", gatewayId: "gw-1", issuedAt: 1_700_000_000,
                                  position: "0-1-2")
        let sealed = token.sealed(with: key)
        #expect(RecoveryToken.open(sealed, with: key) == token)
        #expect(RecoveryToken.open(sealed, with: RecoveryToken.key(secret: "another-secret-0123456789abcdefghij")) == nil)
        var tampered = Array(sealed)
        tampered[3] = tampered[3] == "A" ? "B" : "A"
        #expect(RecoveryToken.open(String(tampered), with: key) == nil)
        #expect(RecoveryToken.open("garbage", with: key) == nil)
        #expect(RecoveryToken.open(String(repeating: "a", count: 4096), with: key) == nil)
    }

    @Test("the replay keeps what targeted the socket, follows its room changes, and notes a disconnect")
    func replay() {
        var replay = RecoveryReplay(socketId: "s1", userId: "alice", isAdmin: false, rooms: ["room:a"], streams: [],
                                    from: DeliveryPosition(partitions: 2))
        func event(_ n: Int, _ target: DeliveryTarget) -> Delivery {
            Delivery.event("e", data: ["n": .number(Double(n))], to: target)
        }
        let deliveries: [Delivery] = [
            event(1, .user("alice")), event(2, .user("bob")), event(3, .room("room:a")), event(4, .room("room:b")),
            Delivery.control(DeliveryControl(action: .join, room: "room:b"), to: .socket("s1")),
            event(5, .room("room:b")), Delivery.control(DeliveryControl(action: .leave, room: "room:a"), to: .user("alice")),
            event(6, .room("room:a")), event(7, .socket("s1")), event(8, .socket("s2")), event(9, .all()),
            event(10, .user("alice", except: "s1")), event(11, .room(Rooms.admin)),
        ]
        for (offset, delivery) in deliveries.enumerated() { replay.apply(delivery, partition: 0, offset: Int64(offset)) }
        replay.apply(nil, partition: 1, offset: 4)  // undecodable: only the position moves
        #expect(replay.events.map { $0.event.data.objectValue?["n"]?.numberValue } == [1, 3, 5, 7, 9])
        #expect(replay.events.last?.position.description == "11-0")
        #expect(replay.position.description == "13-5")
        #expect(replay.rooms == ["room:b"])
        #expect(!replay.disconnected)
        replay.apply(Delivery.control(DeliveryControl(action: .disconnect), to: .socket("s1")), partition: 0, offset: 13)
        #expect(replay.disconnected)
    }

    @Test("the delivery history answers a range it fully holds, and nothing once the start was evicted")
    func history() {
        var history = DeliveryHistory(partitions: 2, maxEntries: 5)
        let start = ContinuousClock.now
        for offset in Int64(10)..<13 { history.append(partition: 0, offset: offset, delivery: nil, now: start) }
        history.append(partition: 0, offset: 11, delivery: nil, now: start)  // not past the last: ignored
        history.append(partition: 1, offset: 7, delivery: nil, now: start + .seconds(5))
        #expect(history.count == 4)
        let range = history.entries(from: DeliveryPosition(next: [11, 7]), to: DeliveryPosition(next: [13, 8]))
        #expect(range?.map { "\($0.partition):\($0.entry.offset)" } == ["0:11", "0:12", "1:7"])
        #expect(history.entries(from: DeliveryPosition(next: [9, 7]), to: DeliveryPosition(next: [13, 8])) == nil)
        #expect(history.entries(from: DeliveryPosition(next: [13, 8]), to: DeliveryPosition(next: [13, 8]))?.isEmpty == true)
        for offset in Int64(8)..<10 { history.append(partition: 1, offset: offset, delivery: nil, now: start + .seconds(6)) }
        #expect(history.count == 5)  // the oldest (0:10) went
        #expect(history.entries(from: DeliveryPosition(next: [10, 7]), to: DeliveryPosition(next: [13, 10])) == nil)
        history.evict(readBefore: start + .seconds(1))
        #expect(history.count == 3)
        #expect(history.entries(from: DeliveryPosition(next: [13, 7]), to: DeliveryPosition(next: [13, 10]))?.count == 3)
    }
}
