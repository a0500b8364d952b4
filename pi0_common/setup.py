from setuptools import find_packages, setup

package_name = 'pi0_common'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['embodiments/*.yaml']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='pi0_ros maintainers',
    maintainer_email='maintainers@pi0-ros.dev',
    description='What the policy side and the robot side of pi0_ros share: embodiment files and their loader, '
                'command types, parameter schema helpers, QoS roles, spin helpers and message conversions.',
    license='Apache-2.0',
)
