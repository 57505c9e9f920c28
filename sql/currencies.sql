--
-- Currencies: ISO 4217 codes with their minor units
--
SELECT count(*) >= 150 AS many_currencies FROM enrollment.currencies;
SELECT minor_unit, count(*) FROM enrollment.currencies GROUP BY 1 ORDER BY 1;
SELECT code, minor_unit FROM enrollment.currencies
 WHERE code IN ('USD', 'EUR', 'GBP', 'JPY', 'KRW', 'KWD', 'BHD', 'CLF')
 ORDER BY code;

-- the smallest unit of each kind of currency is accepted, anything finer
-- is refused and never rounded
SELECT c.code, c.minor_unit,
       outcome(format($$SELECT enrollment.enroll('curr', %L, 10, %L)$$,
                      c.code, c.code)) AS enroll,
       outcome(format($$SELECT enrollment.apply_payment('curr', %L, %s)$$,
                      c.code, 10::numeric ^ -c.minor_unit)) AS smallest_unit,
       outcome(format($$SELECT enrollment.apply_payment('curr', %L, %s)$$,
                      c.code, 10::numeric ^ -(c.minor_unit + 1))) AS finer
  FROM enrollment.currencies c
 WHERE c.code IN ('USD', 'JPY', 'KWD', 'CLF')
 ORDER BY c.code;

SELECT currency, amount_paid FROM enrollment.enrollments
 WHERE user_id = 'curr' ORDER BY currency;

-- codes are upper case and must exist
SELECT outcome($$SELECT enrollment.enroll('curr', 'x', 1, 'usd')$$);
SELECT outcome($$SELECT enrollment.enroll('curr', 'x', 1, 'XXX')$$);
SELECT outcome($$SELECT enrollment.enroll('curr', 'x', 1, '')$$);
SELECT outcome($$SELECT enrollment.enroll('curr', 'x', 1, 'US Dollar')$$);
