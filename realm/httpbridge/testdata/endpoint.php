<?php
// The PHP endpoints of TestPHPEndpoints, served by PHP's built-in server:
//
//   EVENTS_FILE=/tmp/events php -S 127.0.0.1:PORT endpoint.php
//
// POST /events receives forwarded events and appends each to EVENTS_FILE as a JSON line;
// POST /rpc serves the invocations of com.example.php.* forwarded by a callee.
$in = json_decode(file_get_contents('php://input'), true);
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
