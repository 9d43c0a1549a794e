<?php
// The PHP endpoints of TestPHPEndpoints, served by PHP's built-in server:
//
//   EVENTS_FILE=/tmp/events PAWL_SECRET=... php -S 127.0.0.1:PORT endpoint.php
//
// With PAWL_SECRET set, a request without the router's signature gets 401.
// POST /events receives forwarded events and appends each to EVENTS_FILE as a JSON line;
// POST /rpc serves the invocations of com.example.php.* forwarded by a callee.
$raw = file_get_contents('php://input');
// Requests signed by the router (the forwarder's secret) carry X-Hub-Signature-256.
$secret = getenv('PAWL_SECRET');
if ($secret !== false) {
    $expected = 'sha256=' . hash_hmac('sha256', $raw, $secret);
    if (!hash_equals($expected, $_SERVER['HTTP_X_HUB_SIGNATURE_256'] ?? '')) {
        http_response_code(401);
        exit;
    }
}
$in = json_decode($raw, true);
header('Content-Type: application/json');
switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
    case '/events':
        $line = json_encode([
            'topic' => $_SERVER['HTTP_PAWL_TOPIC'] ?? null,
            'publication' => $_SERVER['HTTP_PAWL_PUBLICATION'] ?? null,
            'authorization' => $_SERVER['HTTP_AUTHORIZATION'] ?? null,
            'event' => $in,
        ]);
        file_put_contents(getenv('EVENTS_FILE'), $line . "\n", FILE_APPEND | LOCK_EX);
        http_response_code(204);
        break;
    case '/rpc':
        switch ($in['procedure']) {
            case 'com.example.php.add2':
                echo json_encode(['args' => [$in['args'][0] + $in['args'][1]]]);
                break;
            case 'com.example.php.greet':
                echo json_encode(['args' => ["Hello, {$in['kwargs']['name']}"], 'kwargs' => ['lang' => 'php']]);
                break;
            default:
                http_response_code(404);
                echo json_encode(['error' => 'com.example.error.unknown', 'args' => ["PHP serves no {$in['procedure']}"]]);
        }
        break;
    default:
        http_response_code(404);
}
