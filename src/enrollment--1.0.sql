/* enrollment--1.0.sql: install script of the enrollment extension, version 1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION enrollment" to load this file. \quit

-- CREATE EXTENSION creates schema enrollment, or uses it as it is when it
-- exists.  The owner of a schema may drop, rename or replace anything in
-- it, so a schema that a non-superuser created beforehand would hand that
-- role the ledger: refuse it.
DO $$
BEGIN
	IF NOT (SELECT r.rolsuper
			  FROM pg_catalog.pg_namespace n
			  JOIN pg_catalog.pg_roles r
				ON r.oid OPERATOR(pg_catalog.=) n.nspowner
			 WHERE n.nspname OPERATOR(pg_catalog.=) 'enrollment') THEN
		RAISE EXCEPTION USING
			ERRCODE = 'insufficient_privilege',
			MESSAGE = pg_catalog.format(
				'schema "enrollment" is owned by role %s, which is not a superuser',
				(SELECT n.nspowner::pg_catalog.regrole
				   FROM pg_catalog.pg_namespace n
				  WHERE n.nspname OPERATOR(pg_catalog.=) 'enrollment')),
			DETAIL = 'The owner of the extension''s schema could drop or replace the ledger.',
			HINT = 'Drop the schema, or make a superuser its owner, before CREATE EXTENSION enrollment.';
	END IF;
END
$$;

--
-- Types
--

-- Where an enrollment stands.  Later versions add states with
-- ALTER TYPE ... ADD VALUE; code must not assume this list is complete.
CREATE TYPE enrollment.payment_status AS ENUM ('pending', 'partial', 'paid');

-- What apply_payment() and pay_remaining_balance() return.
CREATE TYPE enrollment.payment_result AS (
	payment_id bigint,
	user_id text,
	course_id text,
	amount numeric,
	amount_paid numeric,
	amount_due numeric,
	status enrollment.payment_status,
	replayed boolean,
	created_at timestamptz
);

--
-- Currencies: ISO 4217 codes in circulation, with their minor unit (the
-- number of decimal places an amount in that currency may have).
--
CREATE TABLE enrollment.currencies (
	code text PRIMARY KEY
		CONSTRAINT currency_code_format
		CHECK (code OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
	minor_unit smallint NOT NULL
		CONSTRAINT minor_unit_range
		CHECK (minor_unit OPERATOR(pg_catalog.>=) 0
			   AND minor_unit OPERATOR(pg_catalog.<=) 4),
	name text NOT NULL
);

INSERT INTO enrollment.currencies (code, minor_unit, name) VALUES
	('AED', 2, 'UAE Dirham'),
	('AFN', 2, 'Afghani'),
	('ALL', 2, 'Lek'),
	('AMD', 2, 'Armenian Dram'),
	('AOA', 2, 'Kwanza'),
	('ARS', 2, 'Argentine Peso'),
	('AUD', 2, 'Australian Dollar'),
	('AWG', 2, 'Aruban Florin'),
	('AZN', 2, 'Azerbaijan Manat'),
	('BAM', 2, 'Convertible Mark'),
	('BBD', 2, 'Barbados Dollar'),
	('BDT', 2, 'Taka'),
	('BHD', 3, 'Bahraini Dinar'),
	('BIF', 0, 'Burundi Franc'),
	('BMD', 2, 'Bermudian Dollar'),
	('BND', 2, 'Brunei Dollar'),
	('BOB', 2, 'Boliviano'),
	('BOV', 2, 'Mvdol'),
	('BRL', 2, 'Brazilian Real'),
	('BSD', 2, 'Bahamian Dollar'),
	('BTN', 2, 'Ngultrum'),
	('BWP', 2, 'Pula'),
	('BYN', 2, 'Belarusian Ruble'),
	('BZD', 2, 'Belize Dollar'),
	('CAD', 2, 'Canadian Dollar'),
	('CDF', 2, 'Congolese Franc'),
	('CHE', 2, 'WIR Euro'),
	('CHF', 2, 'Swiss Franc'),
	('CHW', 2, 'WIR Franc'),
	('CLF', 4, 'Unidad de Fomento'),
	('CLP', 0, 'Chilean Peso'),
	('CNY', 2, 'Yuan Renminbi'),
	('COP', 2, 'Colombian Peso'),
	('COU', 2, 'Unidad de Valor Real'),
	('CRC', 2, 'Costa Rican Colon'),
	('CUP', 2, 'Cuban Peso'),
	('CVE', 2, 'Cabo Verde Escudo'),
	('CZK', 2, 'Czech Koruna'),
	('DJF', 0, 'Djibouti Franc'),
	('DKK', 2, 'Danish Krone'),
	('DOP', 2, 'Dominican Peso'),
	('DZD', 2, 'Algerian Dinar'),
	('EGP', 2, 'Egyptian Pound'),
	('ERN', 2, 'Nakfa'),
	('ETB', 2, 'Ethiopian Birr'),
	('EUR', 2, 'Euro'),
	('FJD', 2, 'Fiji Dollar'),
	('FKP', 2, 'Falkland Islands Pound'),
	('GBP', 2, 'Pound Sterling'),
	('GEL', 2, 'Lari'),
	('GHS', 2, 'Ghana Cedi'),
	('GIP', 2, 'Gibraltar Pound'),
	('GMD', 2, 'Dalasi'),
	('GNF', 0, 'Guinean Franc'),
	('GTQ', 2, 'Quetzal'),
	('GYD', 2, 'Guyana Dollar'),
	('HKD', 2, 'Hong Kong Dollar'),
	('HNL', 2, 'Lempira'),
	('HTG', 2, 'Gourde'),
	('HUF', 2, 'Forint'),
	('IDR', 2, 'Rupiah'),
	('ILS', 2, 'New Israeli Sheqel'),
	('INR', 2, 'Indian Rupee'),
	('IQD', 3, 'Iraqi Dinar'),
	('IRR', 2, 'Iranian Rial'),
	('ISK', 0, 'Iceland Krona'),
	('JMD', 2, 'Jamaican Dollar'),
	('JOD', 3, 'Jordanian Dinar'),
	('JPY', 0, 'Yen'),
	('KES', 2, 'Kenyan Shilling'),
	('KGS', 2, 'Som'),
	('KHR', 2, 'Riel'),
	('KMF', 0, 'Comorian Franc'),
	('KPW', 2, 'North Korean Won'),
	('KRW', 0, 'Won'),
	('KWD', 3, 'Kuwaiti Dinar'),
	('KYD', 2, 'Cayman Islands Dollar'),
	('KZT', 2, 'Tenge'),
	('LAK', 2, 'Lao Kip'),
	('LBP', 2, 'Lebanese Pound'),
	('LKR', 2, 'Sri Lanka Rupee'),
	('LRD', 2, 'Liberian Dollar'),
	('LSL', 2, 'Loti'),
	('LYD', 3, 'Libyan Dinar'),
	('MAD', 2, 'Moroccan Dirham'),
	('MDL', 2, 'Moldovan Leu'),
	('MGA', 2, 'Malagasy Ariary'),
	('MKD', 2, 'Denar'),
	('MMK', 2, 'Kyat'),
	('MNT', 2, 'Tugrik'),
	('MOP', 2, 'Pataca'),
	('MRU', 2, 'Ouguiya'),
	('MUR', 2, 'Mauritius Rupee'),
	('MVR', 2, 'Rufiyaa'),
	('MWK', 2, 'Malawi Kwacha'),
	('MXN', 2, 'Mexican Peso'),
	('MXV', 2, 'Mexican Unidad de Inversion (UDI)'),
	('MYR', 2, 'Malaysian Ringgit'),
	('MZN', 2, 'Mozambique Metical'),
	('NAD', 2, 'Namibia Dollar'),
	('NGN', 2, 'Naira'),
	('NIO', 2, 'Cordoba Oro'),
	('NOK', 2, 'Norwegian Krone'),
	('NPR', 2, 'Nepalese Rupee'),
	('NZD', 2, 'New Zealand Dollar'),
	('OMR', 3, 'Rial Omani'),
	('PAB', 2, 'Balboa'),
	('PEN', 2, 'Sol'),
	('PGK', 2, 'Kina'),
	('PHP', 2, 'Philippine Peso'),
	('PKR', 2, 'Pakistan Rupee'),
	('PLN', 2, 'Zloty'),
	('PYG', 0, 'Guarani'),
	('QAR', 2, 'Qatari Rial'),
	('RON', 2, 'Romanian Leu'),
	('RSD', 2, 'Serbian Dinar'),
	('RUB', 2, 'Russian Ruble'),
	('RWF', 0, 'Rwanda Franc'),
	('SAR', 2, 'Saudi Riyal'),
	('SBD', 2, 'Solomon Islands Dollar'),
	('SCR', 2, 'Seychelles Rupee'),
	('SDG', 2, 'Sudanese Pound'),
	('SEK', 2, 'Swedish Krona'),
	('SGD', 2, 'Singapore Dollar'),
	('SHP', 2, 'Saint Helena Pound'),
	('SLE', 2, 'Leone'),
	('SOS', 2, 'Somali Shilling'),
	('SRD', 2, 'Surinam Dollar'),
	('SSP', 2, 'South Sudanese Pound'),
	('STN', 2, 'Dobra'),
	('SVC', 2, 'El Salvador Colon'),
	('SYP', 2, 'Syrian Pound'),
	('SZL', 2, 'Lilangeni'),
	('THB', 2, 'Baht'),
	('TJS', 2, 'Somoni'),
	('TMT', 2, 'Turkmenistan New Manat'),
	('TND', 3, 'Tunisian Dinar'),
	('TOP', 2, 'Pa''anga'),
	('TRY', 2, 'Turkish Lira'),
	('TTD', 2, 'Trinidad and Tobago Dollar'),
	('TWD', 2, 'New Taiwan Dollar'),
	('TZS', 2, 'Tanzanian Shilling'),
	('UAH', 2, 'Hryvnia'),
	('UGX', 0, 'Uganda Shilling'),
	('USD', 2, 'US Dollar'),
	('USN', 2, 'US Dollar (Next day)'),
	('UYI', 0, 'Uruguay Peso en Unidades Indexadas (UI)'),
	('UYU', 2, 'Peso Uruguayo'),
	('UYW', 4, 'Unidad Previsional'),
	('UZS', 2, 'Uzbekistan Sum'),
	('VED', 2, 'Bolivar Soberano'),
	('VES', 2, 'Bolivar Soberano'),
	('VND', 0, 'Dong'),
	('VUV', 0, 'Vatu'),
	('WST', 2, 'Tala'),
	('XAF', 0, 'CFA Franc BEAC'),
	('XCD', 2, 'East Caribbean Dollar'),
	('XCG', 2, 'Caribbean Guilder'),
	('XOF', 0, 'CFA Franc BCEAO'),
	('XPF', 0, 'CFP Franc'),
	('YER', 2, 'Yemeni Rial'),
	('ZAR', 2, 'Rand'),
	('ZMW', 2, 'Zambian Kwacha'),
	('ZWG', 2, 'Zimbabwe Gold');

--
-- Enrollments: one row per (user, course), amounts in major units.
--
-- The CHECK constraints keep every row consistent on its own, even against
-- direct writes by a superuser; that the amounts agree with the ledger is
-- kept by the functions, the only write path.  1000000000000 is the largest
-- accepted price or amount (money.c: MAX_AMOUNT_MAJOR_UNITS).
--
CREATE TABLE enrollment.enrollments (
	user_id text NOT NULL,
	course_id text NOT NULL,
	currency text NOT NULL REFERENCES enrollment.currencies (code),
	price numeric NOT NULL,
	amount_paid numeric NOT NULL,
	amount_due numeric NOT NULL,
	status enrollment.payment_status NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	paid_at timestamptz,
	PRIMARY KEY (user_id, course_id),
	CONSTRAINT price_range
		CHECK (price OPERATOR(pg_catalog.>=) 0
			   AND price OPERATOR(pg_catalog.<=) 1000000000000),
	CONSTRAINT amount_paid_nonnegative
		CHECK (amount_paid OPERATOR(pg_catalog.>=) 0),
	CONSTRAINT amount_due_nonnegative
		CHECK (amount_due OPERATOR(pg_catalog.>=) 0),
	CONSTRAINT amounts_add_up
		CHECK (amount_paid OPERATOR(pg_catalog.+) amount_due
			   OPERATOR(pg_catalog.=) price),
	CONSTRAINT status_matches_amounts CHECK (
		(status OPERATOR(pg_catalog.=) 'pending'
		 AND amount_paid OPERATOR(pg_catalog.=) 0
		 AND amount_due OPERATOR(pg_catalog.>) 0)
		OR (status OPERATOR(pg_catalog.=) 'partial'
			AND amount_paid OPERATOR(pg_catalog.>) 0
			AND amount_due OPERATOR(pg_catalog.>) 0)
		OR (status OPERATOR(pg_catalog.=) 'paid'
			AND amount_due OPERATOR(pg_catalog.=) 0)),
	CONSTRAINT paid_at_set_when_paid CHECK (
		(status OPERATOR(pg_catalog.=) 'paid') OPERATOR(pg_catalog.=)
		(paid_at IS NOT NULL))
)
-- room on each page for the new versions payments write, so that their
-- updates are HOT and leave the primary key index alone
WITH (fillfactor = 80);

--
-- The ledger: one row per applied payment, never changed afterwards.
--
-- Every key starts with user_id, so a later distribution by user_id keeps
-- each key on one node; idempotency keys are scoped to the user.
--
CREATE TABLE enrollment.payments (
	payment_id bigint GENERATED ALWAYS AS IDENTITY,
	user_id text NOT NULL,
	course_id text NOT NULL,
	amount numeric NOT NULL,
	idempotency_key text,
	amount_paid_after numeric NOT NULL,
	amount_due_after numeric NOT NULL,
	status_after enrollment.payment_status NOT NULL,
	created_at timestamptz NOT NULL,
	created_by name NOT NULL,
	PRIMARY KEY (user_id, course_id, payment_id),
	CONSTRAINT payments_idempotency_key_unique
		UNIQUE (user_id, idempotency_key),
	FOREIGN KEY (user_id, course_id)
		REFERENCES enrollment.enrollments (user_id, course_id),
	CONSTRAINT amount_positive CHECK (amount OPERATOR(pg_catalog.>) 0),
	CONSTRAINT amounts_after_nonnegative CHECK (
		amount_paid_after OPERATOR(pg_catalog.>=) 0
		AND amount_due_after OPERATOR(pg_catalog.>=) 0)
);

-- pg_dump keeps the rows of both tables and the ledger's sequence.
SELECT pg_catalog.pg_extension_config_dump('enrollment.enrollments', '');
SELECT pg_catalog.pg_extension_config_dump('enrollment.payments', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('enrollment.payments', 'payment_id'), '');

--
-- The ledger is append-only, even for its owner.  ENABLE ALWAYS keeps the
-- trigger firing under session_replication_role = replica.
--
CREATE FUNCTION enrollment.refuse_ledger_change()
RETURNS trigger
AS 'MODULE_PATHNAME', 'refuse_ledger_change'
LANGUAGE C;

CREATE TRIGGER payments_append_only
	BEFORE UPDATE OR DELETE OR TRUNCATE ON enrollment.payments
	FOR EACH STATEMENT EXECUTE FUNCTION enrollment.refuse_ledger_change();
ALTER TABLE enrollment.payments ENABLE ALWAYS TRIGGER payments_append_only;

--
-- Functions: the only write path.  They run as the extension's owner with a
-- pinned search_path; callers need EXECUTE, granted explicitly.
--
CREATE FUNCTION enrollment.enroll(
	user_id text,
	course_id text,
	price numeric,
	currency text DEFAULT 'USD')
RETURNS enrollment.enrollments
AS 'MODULE_PATHNAME', 'enroll'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION enrollment.apply_payment(
	user_id text,
	course_id text,
	amount numeric,
	idempotency_key text DEFAULT NULL)
RETURNS enrollment.payment_result
AS 'MODULE_PATHNAME', 'apply_payment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION enrollment.pay_remaining_balance(
	user_id text,
	course_id text,
	idempotency_key text DEFAULT NULL,
	expected_amount numeric DEFAULT NULL)
RETURNS enrollment.payment_result
AS 'MODULE_PATHNAME', 'pay_remaining_balance'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Many payments in one call and one transaction, all or none.
CREATE FUNCTION enrollment.apply_payments(payments jsonb)
RETURNS SETOF enrollment.payment_result
AS 'MODULE_PATHNAME', 'apply_payments'
LANGUAGE C VOLATILE SECURITY DEFINER ROWS 100
SET search_path = pg_catalog, pg_temp;

--
-- Privileges: nothing for PUBLIC; see the README for the grant recipe.
--
REVOKE ALL ON TABLE enrollment.currencies, enrollment.enrollments,
	enrollment.payments FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.refuse_ledger_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.enroll(text, text, numeric, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.apply_payment(text, text, numeric, text)
	FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.pay_remaining_balance(text, text, text, numeric)
	FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.apply_payments(jsonb) FROM PUBLIC;
