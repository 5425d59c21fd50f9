"""Register users in the course-final server's database (what the course's GUI "add user" dialog
does): the password is stored as hexlify(pbkdf2_hmac('sha512', password, name.lower(), 10000)).

Run: python3 add_user.py [--db FILE] NAME:PASSWORD|@FILE ...
  python3 add_user.py --db server_base.db3 alice:secret bob:qwerty
  python3 add_user.py --db server_base.db3 @course_final_accounts.txt
The password is everything after the first colon; @FILE reads NAME:PASSWORD lines (# comments).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from course_final_accounts import SERVER_DATABASE, ServerStorage, seed_users  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description='Регистрация пользователей сервера')
    parser.add_argument('--db', default=SERVER_DATABASE, help='файл базы сервера')
    parser.add_argument('users', nargs='+', help='ИМЯ:ПАРОЛЬ или @ФАЙЛ')
    args = parser.parse_args()
    database = ServerStorage(args.db)
    seed_users(database, args.users)
    print(f'Готово: {len(database.users_list())} пользователей в {args.db}')


if __name__ == '__main__':
    main()
