import Redis

/// The Lua scripts behind ``PresenceStore``: each multi-key change is one atomic script, so concurrent consumers
/// (commands keyed by user, connection records keyed by gateway) never see or leave a half-made change.
///
/// Every script takes `KEYS[1]` = the memo key of the record it handles (absent for the sweep) and
/// `ARGV[1..5]` = now (Unix ms), key TTL (s), memo TTL (s), tombstone TTL (s), default gateway grace (ms); its own
/// arguments follow from `ARGV[6]`. A memoized script stores its JSON result under the memo key and, run again for
/// the same record (a redelivery), returns that result without changing anything — so a redelivered record
/// produces the same deliveries, decided once.
enum PresenceScripts {
    /// Helpers shared by every script (key names are documented in the README, "Presence service").
    static let prelude = #"""
    local NOW = tonumber(ARGV[1])
    local TTL = tonumber(ARGV[2])
    local MEMO_TTL = tonumber(ARGV[3])
    local GONE_TTL = tonumber(ARGV[4])
    local DEFAULT_GRACE = tonumber(ARGV[5])
    local function k(kind, id) return 'presence:' .. kind .. ':' .. id end
    local function roomSockets(room, user) return 'presence:room-sockets:' .. room .. ':' .. user end

    local function memoized(body)
      if KEYS[1] then
        local cached = redis.call('GET', KEYS[1])
        if cached then return cached end
      end
      local result = cjson.encode(body())
      if KEYS[1] then redis.call('SET', KEYS[1], result, 'EX', MEMO_TTL) end
      return result
    end

    local function touch(keys)
      for _, key in ipairs(keys) do redis.call('EXPIRE', key, TTL) end
    end

    local function hashToTable(flat)
      local result = {}
      for i = 1, #flat, 2 do result[flat[i]] = flat[i + 1] end
      return result
    end

    -- Registers a socket unless it is known or was closed on this gateway; returns 'new', 'known' or 'closed', and
    -- whether its user just came online. `at` is the gateway's time of the record naming the socket: a tombstone
    -- from before it belongs to an earlier incarnation (the socket was recovered on the same gateway, and its first
    -- commands overtook its `connection:connected`), so the socket is registered again.
    local function ensureSocket(sid, user, gw, at)
      local gone = redis.call('GET', k('gone', sid))
      if gone then
        local goneGw, goneAt = string.match(gone, '^(.*)|(%-?%d+)$')
        if not goneGw then goneGw, goneAt = gone, nil end
        if goneGw == gw then
          if not goneAt or at <= tonumber(goneAt) then return 'closed', false end
          redis.call('DEL', k('gone', sid))
        end
      end
      local skey = k('socket', sid)
      local known = redis.call('HGET', skey, 'user')
      if known then
        if known ~= user then return 'closed', false end
        return 'known', false
      end
      redis.call('HSET', skey, 'user', user, 'gateway', gw, 'connectedAtMs', NOW)
      redis.call('SADD', k('gateway', gw), sid)
      redis.call('SADD', k('user-sockets', user), sid)
      redis.call('SADD', 'presence:sockets', sid)
      redis.call('SADD', 'presence:users', user)
      redis.call('ZADD', 'presence:gateways', 'NX', NOW + DEFAULT_GRACE, gw)
      local online = false
      if redis.call('EXISTS', k('status', user)) == 0 then
        redis.call('SET', k('status', user), 'online', 'EX', TTL)
        online = true
      end
      touch({skey, k('gateway', gw), k('user-sockets', user)})
      return 'new', online
    end

    -- Adds the socket to a room; true when its user was not a member before.
    local function joinRoom(sid, user, room)
      redis.call('SADD', k('socket-rooms', sid), room)
      redis.call('SADD', roomSockets(room, user), sid)
      local new = redis.call('SADD', k('room', room), user) == 1
      redis.call('SADD', k('user-rooms', user), room)
      redis.call('SADD', 'presence:rooms', room)
      touch({k('socket-rooms', sid), roomSockets(room, user), k('room', room), k('user-rooms', user)})
      return new
    end

    -- Takes the socket out of a room; true when its user has no other socket in it (and so left).
    local function leaveRoom(sid, user, room)
      redis.call('SREM', k('socket-rooms', sid), room)
      redis.call('SREM', roomSockets(room, user), sid)
      if redis.call('SCARD', roomSockets(room, user)) > 0 then return false end
      if redis.call('SREM', k('room', room), user) == 0 then return false end
      redis.call('SREM', k('user-rooms', user), room)
      if redis.call('SCARD', k('room', room)) == 0 then redis.call('SREM', 'presence:rooms', room) end
      return true
    end

    -- Removes a session (only if it belongs to `onlySocket`, when given); returns its user, socket and gateway.
    local function endSession(id, onlySocket)
      local key = k('session', id)
      local fields = redis.call('HMGET', key, 'userId', 'socketId', 'gatewayId')
      if not fields[1] then return nil end
      if onlySocket and fields[2] ~= onlySocket then return nil end
      redis.call('DEL', key)
      redis.call('ZREM', k('user-sessions', fields[1]), id)
      redis.call('ZREM', 'presence:sessions', id)
      if fields[2] and redis.call('HGET', k('socket', fields[2]), 'session') == id then
        redis.call('HDEL', k('socket', fields[2]), 'session')
      end
      return {sessionId = id, userId = fields[1], socketId = fields[2] or nil, gatewayId = fields[3] or nil}
    end

    -- Removes a socket of gateway `gw` everywhere (rooms, session, user, gateway) and leaves a tombstone naming the
    -- gateway and its time of the removal (`at`, Unix ms), so a late record of the socket (a liveness list, a command
    -- from before the disconnect) does not bring it back; returns what changed, or nil when the socket was unknown or
    -- has moved to another gateway meanwhile (a recovered socket keeps its id).
    local function removeSocket(sid, gw, at)
      local skey = k('socket', sid)
      redis.call('SREM', k('gateway', gw), sid)
      local user = redis.call('HGET', skey, 'user')
      local current = redis.call('HGET', skey, 'gateway')
      if user and current and current ~= gw then return nil end
      redis.call('SET', k('gone', sid), gw .. '|' .. string.format('%d', at), 'EX', GONE_TTL)
      if not user then
        redis.call('DEL', skey, k('socket-rooms', sid))
        return nil
      end
      local session = redis.call('HGET', skey, 'session')
      local left = {}
      for _, room in ipairs(redis.call('SMEMBERS', k('socket-rooms', sid))) do
        if leaveRoom(sid, user, room) then table.insert(left, room) end
      end
      table.sort(left)
      local ended = nil
      if session then
        local removed = endSession(session, sid)
        if removed then ended = session end
      end
      redis.call('DEL', skey, k('socket-rooms', sid))
      redis.call('SREM', k('user-sockets', user), sid)
      redis.call('SREM', 'presence:sockets', sid)
      local offline = false
      if redis.call('SCARD', k('user-sockets', user)) == 0 then
        redis.call('DEL', k('status', user), k('user-rooms', user))
        redis.call('SREM', 'presence:users', user)
        offline = true
      end
      return {socketId = sid, userId = user, gatewayId = gw, leftRooms = left, offline = offline, endedSession = ended}
    end

    -- Pushes back the expiry of everything a live socket keeps alive.
    local function refreshSocket(sid, user)
      touch({k('socket', sid), k('socket-rooms', sid), k('user-sockets', user), k('user-rooms', user), k('status', user)})
      for _, room in ipairs(redis.call('SMEMBERS', k('socket-rooms', sid))) do
        touch({k('room', room), roomSockets(room, user)})
      end
    end
    """#

    /// `connection:connected`: ARGV gateway, socket, user, remote address, connectedAt (RFC 3339, then Unix ms).
    static let connected = RedisScript(prelude + "\n" + #"""
    local gw, sid, user, remote, connectedAt, connectedAtMs = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
    return memoized(function()
      redis.call('ZADD', 'presence:gateways', 'NX', NOW + DEFAULT_GRACE, gw)
      -- A socket id seen before is a recovered socket (connection-state recovery keeps the id, on any gateway): it
      -- moves here, and the gateway's first `connection:rooms` for it restores its presence rooms.
      local skey = k('socket', sid)
      local recovered = redis.call('EXISTS', k('gone', sid)) == 1
      redis.call('DEL', k('gone', sid))
      local previous = redis.call('HGET', skey, 'gateway')
      if previous and previous ~= gw and redis.call('HGET', skey, 'user') == user then
        redis.call('SREM', k('gateway', previous), sid)
        redis.call('SADD', k('gateway', gw), sid)
        redis.call('HSET', skey, 'gateway', gw)
        recovered = true
      end
      local state, online = ensureSocket(sid, user, gw, tonumber(connectedAtMs))
      if state ~= 'closed' then
        -- The gateway's clock, like the time of its liveness reports that this is compared with.
        redis.call('HSET', skey, 'remoteAddress', remote, 'connectedAt', connectedAt, 'connectedAtMs', connectedAtMs)
        if recovered then redis.call('HSET', skey, 'restoreRooms', '1') end
      end
      return {socketId = sid, userId = user, state = state, online = online}
    end)
    """#)

    /// `connection:disconnected`: ARGV gateway, socket, the record's time (Unix ms).
    static let disconnected = RedisScript(prelude + "\n" + #"""
    local gw, sid, at = ARGV[6], ARGV[7], tonumber(ARGV[8])
    return memoized(function()
      local removal = removeSocket(sid, gw, at)
      return {removals = {removal}}
    end)
    """#)

    /// `gateway:liveness`: ARGV gateway, grace (ms), '1' when the socket list follows, the record's time (ms),
    /// then socket/user pairs. Pushes the gateway's deadline, drops unlisted sockets that connected before the
    /// report (they disconnected without a record reaching us), registers listed ones we do not know (a Redis restart
    /// lost them) and refreshes the TTLs of the rest.
    static let liveness = RedisScript(prelude + "\n" + #"""
    local gw, grace, listed, reportedAt = ARGV[6], tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
    return memoized(function()
      redis.call('ZADD', 'presence:gateways', NOW + grace, gw)
      -- The gateway's clock at its last report: the time of the removals if it falls silent.
      redis.call('HSET', 'presence:gateway-reported', gw, string.format('%d', reportedAt))
      local removals, added = {}, {}
      if listed == '1' then
        local present = {}
        for i = 10, #ARGV, 2 do present[ARGV[i]] = true end
        for _, sid in ipairs(redis.call('SMEMBERS', k('gateway', gw))) do
          if not present[sid] then
            local at = tonumber(redis.call('HGET', k('socket', sid), 'connectedAtMs') or '0') or 0
            if at < reportedAt - 1000 then
              local removal = removeSocket(sid, gw, reportedAt)
              if removal then table.insert(removals, removal) end
            end
          end
        end
        for i = 10, #ARGV, 2 do
          local sid, user = ARGV[i], ARGV[i + 1]
          local state, online = ensureSocket(sid, user, gw, reportedAt)
          if state == 'new' then table.insert(added, {socketId = sid, userId = user, online = online}) end
          if state ~= 'closed' then refreshSocket(sid, user) end
        end
      else
        for _, sid in ipairs(redis.call('SMEMBERS', k('gateway', gw))) do
          local user = redis.call('HGET', k('socket', sid), 'user')
          if user then refreshSocket(sid, user) end
        end
      end
      touch({k('gateway', gw), 'presence:gateways', 'presence:gateway-reported', 'presence:sockets', 'presence:users',
             'presence:rooms', 'presence:sessions'})
      return {removals = removals, added = added}
    end)
    """#)

    /// The sweep of a silent gateway: ARGV gateway. Removes every socket of a gateway whose deadline has passed.
    static let expireGateway = RedisScript(prelude + "\n" + #"""
    local gw = ARGV[6]
    return memoized(function()
      local deadline = redis.call('ZSCORE', 'presence:gateways', gw)
      if not deadline or tonumber(deadline) > NOW then return {removals = {}, expired = false} end
      -- Removed as of the gateway's last report (its clock); commands it relayed later, if any, register their
      -- sockets again until its next liveness list or expiry settles them.
      local at = tonumber(redis.call('HGET', 'presence:gateway-reported', gw) or '') or 0
      local removals = {}
      for _, sid in ipairs(redis.call('SMEMBERS', k('gateway', gw))) do
        local removal = removeSocket(sid, gw, at)
        if removal then table.insert(removals, removal) end
      end
      redis.call('DEL', k('gateway', gw))
      redis.call('ZREM', 'presence:gateways', gw)
      redis.call('HDEL', 'presence:gateway-reported', gw)
      redis.call('HDEL', 'presence:gateway-partitions', gw)
      return {removals = removals, expired = true}
    end)
    """#)

    /// `connection:rooms` of a recovered socket: ARGV gateway, socket, user, then presence room ids. Only the first
    /// record after the recovery restores (adds) memberships; later ones change nothing, rooms follow the commands.
    static let restoreRooms = RedisScript(prelude + "\n" + #"""
    local gw, sid, user = ARGV[6], ARGV[7], ARGV[8]
    return memoized(function()
      local skey = k('socket', sid)
      if redis.call('HGET', skey, 'restoreRooms') ~= '1' or redis.call('HGET', skey, 'gateway') ~= gw
          or redis.call('HGET', skey, 'user') ~= user then
        return {joined = {}}
      end
      redis.call('HDEL', skey, 'restoreRooms')
      local joined = {}
      for i = 9, #ARGV do
        if joinRoom(sid, user, ARGV[i]) then table.insert(joined, ARGV[i]) end
      end
      return {joined = joined}
    end)
    """#)

    /// After a `gateway.connections` record is handled: ARGV partition, offset, gateway. Keeps the highest offset
    /// handled per partition and the partition each gateway reports on (so the sweep can tell a silent gateway from a
    /// consumer that lags behind).
    static let noteProgress = RedisScript(prelude + "\n" + #"""
    local partition, offset, gw = ARGV[6], tonumber(ARGV[7]), ARGV[8]
    local current = tonumber(redis.call('HGET', 'presence:connections-offsets', partition) or '-1') or -1
    if offset > current then redis.call('HSET', 'presence:connections-offsets', partition, offset) end
    redis.call('HSET', 'presence:gateway-partitions', gw, partition)
    return cjson.encode({})
    """#)

    /// `presence:join-room`: ARGV socket, user, gateway, the command's time (Unix ms), room.
    static let joinRoom = RedisScript(prelude + "\n" + #"""
    local sid, user, gw, at, room = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10]
    return memoized(function()
      local state, online = ensureSocket(sid, user, gw, at)
      if state == 'closed' then return {closed = true} end
      local new = joinRoom(sid, user, room)
      local members = redis.call('SMEMBERS', k('room', room))
      table.sort(members)
      return {online = online, newMember = new, members = members}
    end)
    """#)

    /// `presence:leave-room`: ARGV socket, user, room.
    static let leaveRoom = RedisScript(prelude + "\n" + #"""
    local sid, user, room = ARGV[6], ARGV[7], ARGV[8]
    return memoized(function()
      return {left = leaveRoom(sid, user, room)}
    end)
    """#)

    /// `presence:update`: ARGV socket, user, gateway, the command's time (Unix ms), status. Returns the user's rooms
    /// and their sockets in none.
    static let setStatus = RedisScript(prelude + "\n" + #"""
    local sid, user, gw, at, status = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10]
    return memoized(function()
      local state, online = ensureSocket(sid, user, gw, at)
      if state == 'closed' then return {closed = true} end
      redis.call('SET', k('status', user), status, 'EX', TTL)
      local rooms = redis.call('SMEMBERS', k('user-rooms', user))
      table.sort(rooms)
      -- The user's sockets in no room hear it directly; the others hear it through their rooms (once each).
      local direct = {}
      for _, socket in ipairs(redis.call('SMEMBERS', k('user-sockets', user))) do
        if redis.call('SCARD', k('socket-rooms', socket)) == 0 then
          table.insert(direct, {socketId = socket, gatewayId = redis.call('HGET', k('socket', socket), 'gateway') or nil})
        end
      end
      return {rooms = rooms, direct = direct}
    end)
    """#)

    /// `session:create`: ARGV socket, user, gateway, the command's time (Unix ms), new session id, deviceInfo,
    /// ipAddress, now (RFC 3339), idle (s).
    static let createSession = RedisScript(prelude + "\n" + #"""
    local sid, user, gw, at, id, deviceInfo, ip, nowText, idle = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10],
      ARGV[11], ARGV[12], ARGV[13], tonumber(ARGV[14])
    return memoized(function()
      local state, online = ensureSocket(sid, user, gw, at)
      if state == 'closed' then return {closed = true} end
      local existing = redis.call('HGET', k('socket', sid), 'session')
      if existing and redis.call('EXISTS', k('session', existing)) == 1 then return {existing = existing} end
      local session = {id = id, userId = user, deviceInfo = deviceInfo, ipAddress = ip, socketId = sid,
                       gatewayId = gw, createdAt = nowText, lastSeenAt = nowText}
      local key = k('session', id)
      for field, value in pairs(session) do redis.call('HSET', key, field, value) end
      redis.call('EXPIRE', key, idle)
      redis.call('ZADD', k('user-sessions', user), NOW, id)
      redis.call('EXPIRE', k('user-sessions', user), idle)
      redis.call('ZADD', 'presence:sessions', NOW, id)
      redis.call('HSET', k('socket', sid), 'session', id)
      return {online = online, session = session}
    end)
    """#)

    /// `session:end`: ARGV user, session id. Only the user's own sessions.
    static let endSession = RedisScript(prelude + "\n" + #"""
    local user, id = ARGV[6], ARGV[7]
    return memoized(function()
      if redis.call('HGET', k('session', id), 'userId') ~= user then return {unknown = true} end
      return {ended = endSession(id, nil)}
    end)
    """#)

    /// `session:heartbeat`: ARGV socket, user, now (RFC 3339), idle (s). Refreshes the socket's session.
    static let heartbeat = RedisScript(prelude + "\n" + #"""
    local sid, user, nowText, idle = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
    return memoized(function()
      local id = redis.call('HGET', k('socket', sid), 'session')
      if not id or redis.call('HGET', k('session', id), 'userId') ~= user then return {} end
      redis.call('HSET', k('session', id), 'lastSeenAt', nowText)
      redis.call('EXPIRE', k('session', id), idle)
      redis.call('ZADD', k('user-sessions', user), NOW, id)
      redis.call('EXPIRE', k('user-sessions', user), idle)
      redis.call('ZADD', 'presence:sessions', NOW, id)
      return {sessionId = id, lastSeenAt = nowText}
    end)
    """#)

    /// `session:list` / `session:sync`: ARGV user, idle (ms). The user's live sessions, oldest first; forgets idle ones.
    static let listSessions = RedisScript(prelude + "\n" + #"""
    local user, idle = ARGV[6], tonumber(ARGV[7])
    redis.call('ZREMRANGEBYSCORE', k('user-sessions', user), '-inf', NOW - idle)
    local sessions = {}
    for _, id in ipairs(redis.call('ZRANGE', k('user-sessions', user), 0, -1)) do
      local flat = redis.call('HGETALL', k('session', id))
      if #flat == 0 then
        redis.call('ZREM', k('user-sessions', user), id)
      else
        table.insert(sessions, hashToTable(flat))
      end
    end
    return cjson.encode({sessions = sessions})
    """#)

    /// `broadcast:to-users`: ARGV sender, '1' when the sender may reach anyone (ADMIN), then the targets. Splits the
    /// targets into those who share a presence room with the sender (or are the sender) and the others.
    static let shareRooms = RedisScript(prelude + "\n" + #"""
    local sender, anyone = ARGV[6], ARGV[7] == '1'
    local allowed, refused = {}, {}
    for i = 8, #ARGV do
      local target = ARGV[i]
      if anyone or target == sender or #redis.call('SINTER', k('user-rooms', sender), k('user-rooms', target)) > 0 then
        table.insert(allowed, target)
      else
        table.insert(refused, target)
      end
    end
    return cjson.encode({allowed = allowed, refused = refused})
    """#)

    /// Counts for gauges and `server:health`: ARGV idle (ms) for live sessions; forgets idle sessions.
    static let counts = RedisScript(prelude + "\n" + #"""
    local idle = tonumber(ARGV[6])
    redis.call('ZREMRANGEBYSCORE', 'presence:sessions', '-inf', NOW - idle)
    return cjson.encode({
      sockets = redis.call('SCARD', 'presence:sockets'), users = redis.call('SCARD', 'presence:users'),
      rooms = redis.call('SCARD', 'presence:rooms'), sessions = redis.call('ZCARD', 'presence:sessions'),
      gateways = redis.call('ZCARD', 'presence:gateways')})
    """#)
}
