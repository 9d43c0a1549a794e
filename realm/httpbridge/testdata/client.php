<?php
// The PHP side of TestPHPClient: drives the bridge with php-curl, as a PHP-FPM app would, and
// prints one JSON line per request: {"name", "status", "answer"}.
//
//   php client.php BASE_URL KEY SECRET
[$_, $base, $key, $secret] = $argv;

function post(string $url, string $body, string $contentType = 'application/json'): array
{
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => ["Content-Type: $contentType", 'X-Shop: php-test'],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 10,
    ]);
    $raw = curl_exec($ch);
    if ($raw === false) {
        throw new RuntimeException(curl_error($ch));
    }
    return [curl_getinfo($ch, CURLINFO_RESPONSE_CODE), json_decode($raw, true)];
}

// signed returns the query of a request signed with Crossbar.io's scheme.
function signed(string $key, string $secret, string $body, string $timestamp, string $nonce): string
{
    $seq = '7';
    $mac = hash_hmac('sha256', $key . $timestamp . $seq . $nonce . $body, $secret, true);
    $signature = strtr(base64_encode($mac), '+/', '-_');
    return http_build_query(compact('key', 'timestamp', 'seq', 'nonce', 'signature'));
}

function report(string $name, array $r): void
{
    echo json_encode(['name' => $name, 'status' => $r[0], 'answer' => $r[1]]), "\n";
}

$now = (new DateTime('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
$old = (new DateTime('-1 hour', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
$body = json_encode(['topic' => 'com.example.php', 'args' => ['from PHP', 42], 'kwargs' => ['é' => 'ü']]);
$query = signed($key, $secret, $body, $now, (string) random_int(0, PHP_INT_MAX));

report('signed publish', post("$base/signed?$query", $body));
report('replayed publish', post("$base/signed?$query", $body));
report('stale publish', post("$base/signed?" . signed($key, $secret, $body, $old, (string) random_int(0, PHP_INT_MAX)), $body));
report('wrong secret', post("$base/signed?" . signed($key, 'guess', $body, $now, (string) random_int(0, PHP_INT_MAX)), $body));
report('unsigned', post("$base/signed", $body));
report('call', post("$base/call", json_encode(['procedure' => 'com.example.add2', 'args' => [20, 22]])));
report('call error', post("$base/call", json_encode(['procedure' => 'com.example.fail'])));
report('call not authorized', post("$base/call", json_encode(['procedure' => 'org.other.proc'])));
report('webhook', post("$base/hook", 'order=7&paid=yes', 'application/x-www-form-urlencoded'));
report('bad json', post("$base/publish", '{"topic": '));
