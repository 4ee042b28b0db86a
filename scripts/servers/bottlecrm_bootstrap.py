"""Run inside `django-admin shell`: an admin, an organisation and a personal access token.

The raw token is written to the file named by $BOTTLECRM_TOKEN_FILE; it travels with the
template database, so every copy of the template accepts the same token.
"""

import os

from common.models import Org, PersonalAccessToken, Profile, User

user = User.objects.filter(email="admin@example.com").first() or User.objects.create_superuser(
    email="admin@example.com", password="admin"
)
org, _ = Org.objects.get_or_create(name="Einklang Demo")
profile, _ = Profile.objects.get_or_create(
    user=user,
    org=org,
    defaults={
        "role": "ADMIN",
        "is_organization_admin": True,
        "has_sales_access": True,
        "has_marketing_access": True,
    },
)
raw_token, _ = PersonalAccessToken.generate(profile, "einklang")
with open(os.environ["BOTTLECRM_TOKEN_FILE"], "w") as token_file:
    token_file.write(raw_token)
